# The container delivery path: terraform apply -var-file=examples/container.tfvars
# (after pushing the image; see README.md, "Flow 2").
delivery            = "container"
container_image_tag = "v1.0.0"
