# Environment "local": the whole kit against the local AWS emulator (`spotkit local up`).
# backend.tf, providers.tf and terraform.tfvars.json are rendered from settings.yaml by
# `spotkit env render --env local` (git-ignored); edit settings.yaml, not them.

terraform {
  required_version = ">= 1.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 3.39, < 6.0"
    }
  }
}

# The emulator starts empty, so this environment brings its own small network.
data "aws_availability_zones" "available" {
  state = "available"
}

resource "aws_vpc" "this" {
  cidr_block           = var.vpc_cidr
  enable_dns_hostnames = true
  tags                 = merge(var.tags, { Name = var.name })
}

resource "aws_subnet" "this" {
  count = 2

  vpc_id            = aws_vpc.this.id
  cidr_block        = cidrsubnet(var.vpc_cidr, 8, count.index)
  availability_zone = data.aws_availability_zones.available.names[count.index]
  tags              = merge(var.tags, { Name = "${var.name}-${data.aws_availability_zones.available.names[count.index]}" })
}

resource "aws_security_group" "batch" {
  name        = "${var.name}-batch"
  description = "Batch instances of ${var.name}: no inbound, all outbound"
  vpc_id      = aws_vpc.this.id

  egress {
    description = "All outbound"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }

  tags = merge(var.tags, { Name = "${var.name}-batch" })
}

module "spotkit" {
  source = "../../modules/spotkit-stack"

  name               = var.name
  tags               = var.tags
  subnet_ids         = aws_subnet.this[*].id
  security_group_ids = [aws_security_group.batch.id]
  lambda_zip_path    = var.lambda_zip_path
  compute            = var.compute
  job_queue          = var.job_queue
  job_definition     = var.job_definition
  resubmit           = var.resubmit
  chaos              = var.chaos
}
