# Bakes one release of a family into an AMI with Packer's amazon-ebs builder
# and tags it (and its snapshot) with pipbake-release. internal/catalog's
# end-to-end test runs it against moto_server, with ssh_host/ssh_port
# pointing at a loopback sshd that stands in for the launched instance;
# credentials, region and endpoint come from the AWS_* environment.

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

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "source_ami" {
  type = string
}

variable "family" {
  type    = string
  default = "api-node"
}

variable "release" {
  type = string
}

variable "ssh_host" {
  type = string
}

variable "ssh_port" {
  type = number
}

variable "ssh_username" {
  type = string
}

variable "ssh_private_key_file" {
  type = string
}

variable "wheelhouse" {
  type = string
}

variable "lock" {
  type = string
}

variable "root" {
  type = string
}

variable "receipts" {
  type = string
}

source "amazon-ebs" "node" {
  region                 = var.region
  skip_region_validation = true
  source_ami             = var.source_ami
  instance_type          = "t3.micro"
  ami_name               = "${var.family}-${var.release}"

  communicator         = "ssh"
  ssh_host             = var.ssh_host
  ssh_port             = var.ssh_port
  ssh_username         = var.ssh_username
  ssh_private_key_file = var.ssh_private_key_file
  ssh_timeout          = "1m"

  tags = {
    Name = "${var.family}-${var.release}"
  }
}

build {
  sources = ["source.amazon-ebs.node"]

  provisioner "pipbake" {
    wheelhouse     = var.wheelhouse
    release        = var.release
    receipt_output = var.receipts

    set {
      name = "hello"
      lock = var.lock
      root = var.root
    }
  }

  post-processor "pipbake-release" {
    family       = var.family
    receipts_dir = var.receipts
  }
}
