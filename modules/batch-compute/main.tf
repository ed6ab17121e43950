data "aws_partition" "current" {}

locals {
  partition = data.aws_partition.current.partition

  spot_name      = "${var.name}-spot"
  on_demand_name = "${var.name}-ondemand"

  # Batch requests a Spot Fleet (and needs the Spot Fleet role) only for BEST_FIT; the
  # *_CAPACITY_OPTIMIZED strategies use an EC2 Auto Scaling group.
  uses_spot_fleet = var.allocation_strategy == "BEST_FIT"

  # Chaos opt-in: AWS FIS experiments (modules/chaos-fis) select instances by this tag and their
  # role may act only on instances that carry it. Only the Spot compute environment opts in.
  chaos_opt_in_tag = { "spotkit:chaos" = "opt-in" }
  spot_chaos_tags  = var.chaos_opt_in ? local.chaos_opt_in_tag : {}

  create_service_role    = var.create && var.create_service_role
  create_instance_role   = var.create && var.create_instance_role
  create_spot_fleet_role = var.create && var.create_spot_fleet_role && local.uses_spot_fleet

  service_role_arn     = local.create_service_role ? aws_iam_role.service[0].arn : var.service_role_arn
  instance_profile_arn = local.create_instance_role ? aws_iam_instance_profile.instance[0].arn : var.instance_profile_arn
  spot_fleet_role_arn  = local.create_spot_fleet_role ? aws_iam_role.spot_fleet[0].arn : var.spot_fleet_role_arn
}

################################################################################
# IAM: Batch service role
# https://docs.aws.amazon.com/batch/latest/userguide/service_IAM_role.html
################################################################################

data "aws_iam_policy_document" "service_assume" {
  count = local.create_service_role ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["batch.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "service" {
  count = local.create_service_role ? 1 : 0

  name                 = "${var.name}-batch-service"
  path                 = var.iam_role_path
  description          = "AWS Batch service role for the ${var.name} compute environments"
  assume_role_policy   = data.aws_iam_policy_document.service_assume[0].json
  permissions_boundary = var.iam_role_permissions_boundary
  tags                 = var.tags
}

resource "aws_iam_role_policy_attachment" "service" {
  count = local.create_service_role ? 1 : 0

  role       = aws_iam_role.service[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSBatchServiceRole"
}

################################################################################
# IAM: ECS instance role + instance profile
# https://docs.aws.amazon.com/batch/latest/userguide/instance_IAM_role.html
################################################################################

data "aws_iam_policy_document" "instance_assume" {
  count = local.create_instance_role ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "instance" {
  count = local.create_instance_role ? 1 : 0

  name                 = "${var.name}-batch-instance"
  path                 = var.iam_role_path
  description          = "ECS container instance role for the ${var.name} compute environments"
  assume_role_policy   = data.aws_iam_policy_document.instance_assume[0].json
  permissions_boundary = var.iam_role_permissions_boundary
  tags                 = var.tags
}

resource "aws_iam_role_policy_attachment" "instance" {
  count = local.create_instance_role ? 1 : 0

  role       = aws_iam_role.instance[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
}

resource "aws_iam_instance_profile" "instance" {
  count = local.create_instance_role ? 1 : 0

  name = "${var.name}-batch-instance"
  path = var.iam_role_path
  role = aws_iam_role.instance[0].name
  tags = var.tags
}

################################################################################
# IAM: Spot Fleet role (BEST_FIT only)
# https://docs.aws.amazon.com/batch/latest/userguide/spot_fleet_IAM_role.html
################################################################################

data "aws_iam_policy_document" "spot_fleet_assume" {
  count = local.create_spot_fleet_role ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["spotfleet.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "spot_fleet" {
  count = local.create_spot_fleet_role ? 1 : 0

  name                 = "${var.name}-batch-spot-fleet"
  path                 = var.iam_role_path
  description          = "Spot Fleet role Batch uses for the ${local.spot_name} compute environment (BEST_FIT)"
  assume_role_policy   = data.aws_iam_policy_document.spot_fleet_assume[0].json
  permissions_boundary = var.iam_role_permissions_boundary
  tags                 = var.tags
}

resource "aws_iam_role_policy_attachment" "spot_fleet" {
  count = local.create_spot_fleet_role ? 1 : 0

  role       = aws_iam_role.spot_fleet[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonEC2SpotFleetTaggingRole"
}

################################################################################
# Compute environments
# https://docs.aws.amazon.com/batch/latest/userguide/compute_environment_parameters.html
################################################################################

resource "aws_batch_compute_environment" "spot" {
  count = var.create ? 1 : 0

  # No name argument: Terraform generates a unique one ("terraform-2026..."). The argument is
  # compute_environment_name on hashicorp/aws 5.x and name on 6.x, so naming it would tie the
  # module to one major; a generated name is also what lets create_before_destroy build the
  # replacement beside the old one (names are unique per account and Region). The readable name
  # is in the Name tag; outputs read the real name from the ARN.
  type         = "MANAGED"
  state        = var.state
  service_role = local.service_role_arn

  compute_resources {
    type                = "SPOT"
    allocation_strategy = var.allocation_strategy
    bid_percentage      = var.bid_percentage
    spot_iam_fleet_role = local.uses_spot_fleet ? local.spot_fleet_role_arn : null

    min_vcpus     = var.min_vcpus
    max_vcpus     = var.max_vcpus
    desired_vcpus = var.desired_vcpus
    instance_type = var.instance_types
    instance_role = local.instance_profile_arn
    image_id      = var.image_id
    ec2_key_pair  = var.ec2_key_pair

    subnets            = var.subnet_ids
    security_group_ids = var.security_group_ids

    # Tags of the instances Batch launches; the compute environment's readable name lets a Spot
    # interruption be traced back to the compute environment that lost the capacity, and with
    # chaos_opt_in the opt-in tag makes them eligible for FIS experiments. hashicorp/aws >= 5.10
    # updates these in place (older releases replaced the compute environment).
    tags = merge(var.tags, local.spot_chaos_tags, { Name = local.spot_name, "spotkit:compute-environment" = local.spot_name })

    dynamic "launch_template" {
      for_each = var.launch_template_id == null ? [] : [var.launch_template_id]
      content {
        launch_template_id = launch_template.value
        version            = var.launch_template_version
      }
    }
  }

  tags = merge(var.tags, local.spot_chaos_tags, { Name = local.spot_name })

  # Batch must still be able to assume its role while it deletes the compute environment.
  depends_on = [aws_iam_role_policy_attachment.service, aws_iam_role_policy_attachment.spot_fleet]

  lifecycle {
    # A change AWS cannot make in place (e.g. instance role, image, type) replaces the compute
    # environment: the new one is created first and the job queues move to it before the old one
    # is disabled and deleted, so the queues never point at nothing.
    create_before_destroy = true
    # Batch itself moves desired vCPUs as jobs come and go; Terraform sets only the initial value.
    ignore_changes = [compute_resources[0].desired_vcpus]
  }
}

resource "aws_batch_compute_environment" "on_demand" {
  count = var.create && var.create_on_demand ? 1 : 0

  # Generated name, readable one in the Name tag: see the Spot compute environment.
  type         = "MANAGED"
  state        = var.state
  service_role = local.service_role_arn

  compute_resources {
    type                = "EC2"
    allocation_strategy = var.on_demand_allocation_strategy

    min_vcpus     = var.on_demand_min_vcpus
    max_vcpus     = var.on_demand_max_vcpus
    instance_type = var.on_demand_instance_types != null ? var.on_demand_instance_types : var.instance_types
    instance_role = local.instance_profile_arn
    image_id      = var.image_id
    ec2_key_pair  = var.ec2_key_pair

    subnets            = var.subnet_ids
    security_group_ids = var.security_group_ids

    tags = merge(var.tags, { Name = local.on_demand_name, "spotkit:compute-environment" = local.on_demand_name })

    dynamic "launch_template" {
      for_each = var.launch_template_id == null ? [] : [var.launch_template_id]
      content {
        launch_template_id = launch_template.value
        version            = var.launch_template_version
      }
    }
  }

  tags = merge(var.tags, { Name = local.on_demand_name })

  depends_on = [aws_iam_role_policy_attachment.service]

  lifecycle {
    create_before_destroy = true
    ignore_changes        = [compute_resources[0].desired_vcpus]
  }
}
