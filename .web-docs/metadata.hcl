# The Packer integration's metadata, generated from docs/ by
# .web-docs/scripts/render.go (make docs): do not edit.
integration {
  name        = "pipbake"
  description = "Bake pinned Python package sets into machine images and container images, one verified release per set, so that rolling back means launching the previous image."
  identifier  = "packer/pipbake/pipbake"
  component {
    type = "builder"
    name = "pipbake-oci"
    slug = "oci"
  }
  component {
    type = "provisioner"
    name = "pipbake"
    slug = "pipbake"
  }
  component {
    type = "post-processor"
    name = "pipbake-release"
    slug = "release"
  }
}
