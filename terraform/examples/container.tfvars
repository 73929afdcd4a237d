# The container delivery path: terraform apply -var-file=examples/container.tfvars
# (after pushing the image; see README.md, "Flow 2").
# container_image_tag comes from image.auto.tfvars.json, written by scripts/image.sh build: a tag
# set here would win over it and point at an image that was never built.
delivery = "container"
