# Environment "local": the whole kit against the local AWS emulator (`spotkit local up`).
# backend.tf, providers.tf and terraform.tfvars.json are rendered from settings.yaml by
# `spotkit env render --env local` (git-ignored); edit settings.yaml, not them.

terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.77.0, < 7.0"
    }
  }
}

# The emulator starts empty, so this environment brings its own small network.
data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:Emulator-only root: the local emulator's zone list is fixed per region and the subnets take names[0] and names[1] only, so no zone added later can enter the set.
  state = "available"
}

resource "aws_vpc" "this" {
  #checkov:skip=CKV2_AWS_11:Emulator-only root: this VPC exists inside the local emulator and carries no packets, so there is no traffic to log; dev and prod use the account's own VPCs, whose flow logs belong to its network baseline.
  cidr_block           = var.vpc_cidr
  enable_dns_hostnames = true
  tags                 = merge(var.tags, { Name = var.name })
}

# The VPC's default security group, adopted with no rules: nothing that lands in it by
# mistake can send or receive anything.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-default-deny" })
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
  description = "Batch instances of ${var.name}: no inbound, HTTPS outbound"
  vpc_id      = aws_vpc.this.id

  # The ECS agent, ECR, S3 and CloudWatch Logs are HTTPS endpoints. DNS (the VPC resolver) and the
  # Amazon Time Sync Service are link-local addresses that security groups do not filter.
  egress {
    description = "HTTPS to AWS endpoints and image registries"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
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
