# Bakes the hello example app (as a systemd service) and an API set into a
# machine reached over SSH, with Packer's null builder: the machine is
# whatever ssh_host points at. pipbake's end-to-end tests run this template
# against a throwaway sshd on 127.0.0.1.
#
#   packer init examples/local-ssh
#   packer build -var ssh_private_key_file=KEY -var wheelhouse=WHEELS \
#     -var api_lock=LOCK examples/local-ssh

packer {
  required_plugins {
    pipbake = {
      source  = "github.com/pipbake/pipbake"
      version = ">= 0.1.0"
    }
  }
}

variable "ssh_host" {
  type    = string
  default = "127.0.0.1"
}

variable "ssh_port" {
  type    = number
  default = 22
}

variable "ssh_username" {
  type    = string
  default = "root"
}

variable "ssh_private_key_file" {
  type = string
}

variable "wheelhouse" {
  type        = string
  description = "A folder with the hello wheel and every wheel api_lock pins (pipbake fetch makes one)."
}

variable "api_lock" {
  type        = string
  description = "A hashed lock of the API's packages, e.g. Flask and its dependencies."
}

variable "root_prefix" {
  type    = string
  default = "/opt"
}

variable "release" {
  type    = string
  default = ""
}

variable "service_user" {
  type    = string
  default = "hello"
}

variable "receipt_output" {
  type    = string
  default = "receipts"
}

source "null" "machine" {
  communicator         = "ssh"
  ssh_host             = var.ssh_host
  ssh_port             = var.ssh_port
  ssh_username         = var.ssh_username
  ssh_private_key_file = var.ssh_private_key_file
  ssh_timeout          = "1m"
}

build {
  sources = ["source.null.machine"]

  provisioner "pipbake" {
    wheelhouse     = var.wheelhouse
    release        = var.release
    receipt_output = var.receipt_output

    set {
      name = "hello"
      lock = "${path.root}/../hello/requirements.txt"
      root = "${var.root_prefix}/hello"

      service {
        command = "hello"
        user    = var.service_user
        restart = "no"
      }
    }

    set {
      name = "api"
      lock = var.api_lock
      root = "${var.root_prefix}/api"
    }
  }
}
