# PRE-ISSUE-14 SHAPE (test fixture, never applied): the two aws_batch_compute_environment blocks of
# modules/batch-compute/main.tf as of commit 42a5d48, verbatim. hashicorp/aws 6.0 renamed
# compute_environment_name to name; tests/test_provider_schema.py asserts the exact findings.

resource "aws_batch_compute_environment" "spot" {
  count = var.create ? 1 : 0

  compute_environment_name = local.spot_name
  type                     = "MANAGED"
  state                    = var.state
  service_role             = local.service_role_arn

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

    # Tags of the instances Batch launches; the compute environment name lets a Spot interruption
    # be traced back to the compute environment that lost the capacity, and with chaos_opt_in the
    # opt-in tag makes them eligible for FIS experiments.
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
    # Batch itself moves desired vCPUs as jobs come and go; Terraform sets only the initial value.
    ignore_changes = [compute_resources[0].desired_vcpus]
  }
}

resource "aws_batch_compute_environment" "on_demand" {
  count = var.create && var.create_on_demand ? 1 : 0

  compute_environment_name = local.on_demand_name
  type                     = "MANAGED"
  state                    = var.state
  service_role             = local.service_role_arn

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
    ignore_changes = [compute_resources[0].desired_vcpus]
  }
}
