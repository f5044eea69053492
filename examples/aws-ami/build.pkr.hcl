# Bakes one release of an API into an AMI: a Debian 12 instance, the API's
# pinned packages installed by pipbake as a systemd service, and the
# release catalog's tags on the AMI and its snapshot. Build one AMI per
# release, e.g. from CI:
#
#   pipbake fetch --lock locks/api.txt --out wheels \
#     --python-version 3.11 --platform manylinux_2_36_x86_64
#   packer init examples/aws-ami
#   packer build -var release=2026.11.26 -var lock=locks/api.txt \
#     -var wheelhouse=wheels examples/aws-ami
#
# See README.md for the variables and for rolling back.

packer {
  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = ">= 1.8.0"
    }
    pipbake = {
      source  = "github.com/pipbake/pipbake"
      version = ">= 0.1.0"
    }
  }
}

variable "release" {
  type        = string
  description = "The release id: a tag, a version or a CI build number. One AMI per release."

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$", var.release))
    error_message = "The release must be 1 to 100 letters, digits, '.', '_' and '-', starting with a letter or digit: it is part of the AMI's name."
  }
}

variable "family" {
  type        = string
  default     = "api-node"
  description = "The image family (pipbake:family): the releases rollback chooses from."
}

variable "lock" {
  type        = string
  description = "The API's hashed lock file (pip-compile --generate-hashes or uv output, or pylock.toml)."
}

variable "wheelhouse" {
  type        = string
  default     = "wheels"
  description = "A folder with every wheel the lock pins for the image's Python (pipbake fetch writes one)."
}

variable "set_name" {
  type        = string
  default     = "api"
  description = "The package set's name: its systemd unit, its receipt and its entry in pipbake:sets."
}

variable "app_version" {
  type        = string
  default     = ""
  description = "The set's version in the pipbake:sets tag amazon-ebs writes; defaults to the release. pipbake-release then records the version the receipt says was installed."
}

variable "service_command" {
  type        = string
  default     = "gunicorn --bind 0.0.0.0:8080 api.wsgi:app"
  description = "The service's command line; a first word without a slash is a program in the set's bin folder."
}

variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "instance_type" {
  type    = string
  default = "t3.small"
}

variable "subnet_id" {
  type        = string
  default     = ""
  description = "The subnet of the build instance; empty for the default VPC."
}

variable "skip_region_validation" {
  type        = bool
  default     = false
  description = "Accept a region the amazon plugin does not know (new regions, emulators)."
}

variable "receipt_output" {
  type        = string
  default     = ""
  description = "Where the set's receipt and SBOM are copied on the Packer host; empty: receipts/<release>, the folder per release `pipbake diff --receipts receipts` and `promote --receipts receipts` read."
}

variable "signing_key" {
  type        = string
  default     = ""
  description = "A private key (ECDSA P-256 PEM, or cosign.key with COSIGN_PASSWORD) that signs the release's attestations on the Packer host; empty: unsigned."
}

variable "verify_on_boot" {
  type        = bool
  default     = false
  description = "Verify the set's release against its receipt at every boot, before its service starts (pipbake-verify@<set>.service)."
}

variable "source_ami" {
  type        = string
  default     = ""
  description = "An AMI to start from instead of the newest Debian 12 (the tests use moto's)."
}

variable "ssh_username" {
  type    = string
  default = "admin"
}

variable "ssh_host" {
  type        = string
  default     = ""
  description = "Connect here instead of the launched instance's address (the tests point it at a loopback sshd)."
}

variable "ssh_port" {
  type    = number
  default = 22
}

variable "ssh_private_key_file" {
  type        = string
  default     = ""
  description = "A private key for ssh_username; empty: Packer makes a temporary key pair."
}

variable "root" {
  type        = string
  default     = ""
  description = "The set's release root; empty: /opt/<set_name>."
}

variable "execute_command" {
  type        = string
  default     = "chmod +x {{.Agent}} && sudo -E {{.Agent}} {{.Args}}"
  description = "How the agent runs; Debian's admin user needs sudo."
}

locals {
  ami_name = "${var.family}-${var.release}"
  receipts = var.receipt_output != "" ? var.receipt_output : "receipts/${var.release}"
  sets     = "${var.set_name}@${var.app_version != "" ? var.app_version : var.release}"
  release_tags = {
    "pipbake:family"  = var.family
    "pipbake:release" = var.release
    "pipbake:sets"    = local.sets
    # What the image was built on (amazon-ebs fills in the source AMI):
    # `pipbake diff` shows when it changes.
    "pipbake:base" = "{{ .SourceAMIName }} ({{ .SourceAMI }})"
  }
}

source "amazon-ebs" "api" {
  region                 = var.region
  skip_region_validation = var.skip_region_validation
  instance_type          = var.instance_type
  subnet_id              = var.subnet_id
  ssh_username           = var.ssh_username
  ssh_host               = var.ssh_host
  ssh_port               = var.ssh_port
  ssh_private_key_file   = var.ssh_private_key_file
  source_ami             = var.source_ami

  dynamic "source_ami_filter" {
    for_each = var.source_ami == "" ? ["debian-12"] : []
    content {
      filters = {
        name                = "debian-12-amd64-*"
        architecture        = "x86_64"
        root-device-type    = "ebs"
        virtualization-type = "hvm"
      }
      owners      = ["136693071363"] # Debian
      most_recent = true
    }
  }

  ami_name        = local.ami_name
  ami_description = "${var.family} release ${var.release} (${local.sets}), baked by pipbake"

  # amazon-ebs adds these tags once it has made the AMI; they are what
  # `pipbake images`, `promote` and `rollback` read.
  tags          = merge(local.release_tags, { Name = local.ami_name })
  snapshot_tags = merge(local.release_tags, { Name = local.ami_name })

  # The build instance's name; kept off the AMI, whose tags are the above.
  run_tags          = { Name = "packer ${local.ami_name}" }
  skip_ami_run_tags = true
}

build {
  sources = ["source.amazon-ebs.api"]

  provisioner "pipbake" {
    wheelhouse      = var.wheelhouse
    release         = var.release
    receipt_output  = local.receipts
    execute_command = var.execute_command
    # The template files the sets' provenance names by sha256 (Packer tells
    # a provisioner no template path).
    template_files = [for f in fileset(path.root, "*.pkr.hcl") : "${path.root}/${f}"]

    set {
      name = var.set_name
      lock = var.lock
      root = var.root != "" ? var.root : "/opt/${var.set_name}"

      verify_on_boot = var.verify_on_boot

      dynamic "service" {
        for_each = var.service_command != "" ? [var.service_command] : []
        content {
          command = service.value
          user    = var.set_name
        }
      }
    }
  }

  # Tags the AMI and its snapshot from the receipts the provisioner brought
  # back: the set's installed version, pipbake:receipt-sha256 and
  # pipbake:lock-sha256, in every region the AMI is in; signs the set's
  # attestations into <receipts>/attestations and tags their digest
  # (pipbake:attestation-sha256).
  post-processor "pipbake-release" {
    family       = var.family
    receipts_dir = local.receipts
    signing_key  = var.signing_key
  }

  # The AMI's id, for the CI job to print or pass on.
  post-processor "manifest" {
    output     = "packer-manifest.json"
    strip_path = true
    custom_data = {
      family  = var.family
      release = var.release
      sets    = local.sets
    }
  }
}
