# tflint for terraform/: the bundled terraform ruleset with every rule on. The AWS ruleset cannot be
# installed here (tflint --init has no network), which is why every AWS argument was checked against
# the provider's documentation instead (see README.md).
config {
  call_module_type = "all"
  force            = false
}

plugin "terraform" {
  enabled = true
  preset  = "all"
}
