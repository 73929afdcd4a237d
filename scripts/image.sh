#!/usr/bin/env bash
# The container delivery path: the same static bin/scaleapp the AMI bakes, packaged FROM scratch.
#   scripts/image.sh build   build scaleapp:$VERSION from container/Dockerfile (needs `make build` first)
#   scripts/image.sh run     run it in the foreground on PORT (default 8080)
#   scripts/image.sh push    push it to the stack's ECR repository (terraform output ecr_repository_url,
#                            or ECR_REPOSITORY_URL); `scripts/terraform.sh ecr-repository` creates it
# ENGINE=podman|docker picks the engine; by default podman when present, else docker. IMAGE names the
# local image (default scaleapp, tagged $VERSION); IMAGE_TFVARS where build writes container_image_tag.
# ECR login is `aws ecr get-login-password | ENGINE login --password-stdin` into a throw-away auth file:
# the token never appears on a command line, in the log, or in the agent's home directory.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[image %s] %s\n' "$(date +%T)" "$*"; }
# The registry login's throw-away auth directory. Global, not local to push(): the EXIT trap runs after
# push() has returned, and under set -u a local would be unbound by then (exit 1 after a good push).
AUTH_DIR=""
remove_auth() { [ -z "$AUTH_DIR" ] || rm -rf "$AUTH_DIR"; }
# The build's staged context, removed the same way.
BUILD_CTX=""
cleanup() { remove_auth; [ -z "$BUILD_CTX" ] || rm -rf "$BUILD_CTX"; }
trap cleanup EXIT
die() { echo "image.sh: $*" >&2; exit 2; }

[ $# -eq 1 ] || die "usage: scripts/image.sh build|run|push"
ENGINE=${ENGINE:-$(command -v podman >/dev/null && echo podman || echo docker)}
command -v "$ENGINE" >/dev/null || die "neither podman nor docker is installed (ENGINE=$ENGINE)"
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
COMMIT=${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo none)}
IMAGE=${IMAGE:-scaleapp}:$VERSION

build() {
  [ -x bin/scaleapp ] || die "bin/scaleapp is missing: run 'make build' first (the image packages that exact binary)"
  local format=()
  # podman's default OCI format has no HEALTHCHECK field and would drop it silently.
  # --layers=false: a scratch + COPY build gains nothing from cached intermediate images.
  [ "$(basename "$ENGINE")" = podman ] && format=(--format docker --layers=false)
  log "$ENGINE build $IMAGE (commit $COMMIT)"
  # The context is the binary alone, staged read-only (0555): the image gets nothing else from the
  # checkout, and the mode without COPY --chmod, which the classic (non-BuildKit) docker builder lacks.
  BUILD_CTX=$(mktemp -d)
  install -m 0555 bin/scaleapp "$BUILD_CTX/scaleapp"
  "$ENGINE" build "${format[@]}" -f container/Dockerfile \
    --build-arg "VERSION=$VERSION" --build-arg "COMMIT=$COMMIT" \
    --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)" -t "$IMAGE" "$BUILD_CTX"
  log "built $IMAGE: $("$ENGINE" image inspect --format '{{.Size}}' "$IMAGE") bytes"
  # Terraform's container path runs the image by this tag (variable container_image_tag), as the AMI
  # path takes ami_id from the bake's ami.auto.tfvars.json.
  local tfvars=${IMAGE_TFVARS:-terraform/image.auto.tfvars.json}
  jq -n --arg tag "$VERSION" '{container_image_tag: $tag}' >"$tfvars"
  log "wrote $tfvars (container_image_tag = $VERSION)"
}

push() {
  local region=${AWS_REGION:?set AWS_REGION} repo registry remote digest
  command -v aws >/dev/null || die "the AWS CLI is not installed"
  repo=${ECR_REPOSITORY_URL:-$(scripts/terraform.sh output ecr_repository_url 2>/dev/null || true)}
  # Every partition: amazonaws.com, and amazonaws.com.cn in the China regions.
  [[ $repo =~ ^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/-]+$ ]] ||
    die "no ECR repository (got '${repo}'): Terraform creates it with delivery=container; run 'TF_VAR_delivery=container scripts/terraform.sh ecr-repository' once, or set ECR_REPOSITORY_URL"
  registry=${repo%%/*}
  remote=$repo:$VERSION
  if aws ecr describe-images --region "$region" --repository-name "${repo#*/}" --image-ids "imageTag=$VERSION" >/dev/null 2>&1; then
    log "$remote already exists and tags are immutable: not pushing again"
  else
    AUTH_DIR=$(mktemp -d)
    export REGISTRY_AUTH_FILE=$AUTH_DIR/auth.json DOCKER_CONFIG=$AUTH_DIR
    log "logging in to $registry (token through stdin, throw-away auth file)"
    aws ecr get-login-password --region "$region" | "$ENGINE" login --username AWS --password-stdin "$registry"
    "$ENGINE" tag "$IMAGE" "$remote"
    log "pushing $remote"
    "$ENGINE" push "$remote"
    "$ENGINE" logout "$registry" >/dev/null 2>&1 || true
    remove_auth
    AUTH_DIR=""
  fi
  digest=$(aws ecr describe-images --region "$region" --repository-name "${repo#*/}" --image-ids "imageTag=$VERSION" \
    --query 'imageDetails[0].imageDigest' --output text)
  mkdir -p dist
  jq -n --arg image "$remote" --arg digest "$digest" --arg version "$VERSION" --arg commit "$COMMIT" \
    '{image: $image, digest: $digest, version: $version, commit: $commit}' >dist/image.json
  log "pushed $remote ($digest); wrote dist/image.json"
}

t0=$SECONDS
case $1 in
  build) build ;;
  run)
    # podman on Debian 12: runc with explicit ulimits (crun fails on its rlimits), as container/test.sh.
    opts=()
    [ "$(basename "$ENGINE")" != podman ] || opts=(--runtime runc --ulimit nofile=20000:20000 --ulimit nproc=32768:32768)
    # A local run: no instance metadata to ask (IMDS_DISABLED), as with make run.
    exec "$ENGINE" run --rm --name scaleapp "${opts[@]}" -e "IMDS_DISABLED=${IMDS_DISABLED:-true}" \
      -p "${PORT:-8080}:8080" "$IMAGE" ;;
  push) push ;;
  *) die "unknown step '$1': build, run or push" ;;
esac
log "$1 done in $((SECONDS - t0)) s"
