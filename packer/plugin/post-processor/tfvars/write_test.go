package tfvars

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every failure of writeJSON leaves the directory as it was: no temporary file behind.
func TestWriteJSONFailuresLeaveNoTemporaryFile(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, path string) // makes writing path fail
		value any
		want  string
	}{
		{
			// The temporary file is written, then the rename onto a non-empty directory fails.
			name:  "rename fails",
			setup: func(t *testing.T, path string) { mkdir(t, filepath.Join(path, "keep")) },
			value: map[string]string{"ami_id": "ami-0abc"},
			want:  "replacing ",
		},
		{
			name:  "value not encodable",
			setup: func(*testing.T, string) {},
			value: map[string]any{"ami_id": make(chan int)},
			want:  "encoding ",
		},
		{
			name:  "directory cannot be created",
			setup: func(t *testing.T, path string) { mkfile(t, filepath.Dir(path)) },
			value: map[string]string{"ami_id": "ami-0abc"},
			want:  "creating the directory of ",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			path := filepath.Join(root, "terraform", "ami.auto.tfvars.json")
			tc.setup(t, path)
			err := writeJSON(path, tc.value)
			if err == nil || !strings.Contains(err.Error(), tc.want+path) {
				t.Fatalf("writeJSON = %v, want an error containing %q", err, tc.want+path)
			}
			var left []string
			_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
				if err == nil && strings.Contains(d.Name(), ".tmp-") {
					left = append(left, p)
				}
				return nil
			})
			if len(left) > 0 {
				t.Errorf("temporary files left behind: %v", left)
			}
		})
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func mkfile(t *testing.T, path string) {
	t.Helper()
	mkdir(t, filepath.Dir(path))
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}
