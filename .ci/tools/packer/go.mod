module github.com/pipbake/packer-plugin-pipbake/.ci/tools/packer

go 1.26.0

// Packer's own go.mod replaces go-cty with HashiCorp's fork; a replace does
// not carry over to modules that require Packer, so repeat it here.
replace github.com/zclconf/go-cty => github.com/nywilken/go-cty v1.13.3

require github.com/hashicorp/packer v1.16.0
