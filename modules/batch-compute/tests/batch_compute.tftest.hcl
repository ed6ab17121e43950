# terraform test (Terraform >= 1.7): plans (and mock applies) against a mocked hashicorp/aws, no
# AWS account. tests/test_terraform_test.py runs it from make test.

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
  # The provider still validates arguments: the role ARNs handed to the compute environments in
  # the mock apply below must look like ARNs.
  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/mock"
    }
  }
  mock_resource "aws_iam_instance_profile" {
    defaults = {
      arn = "arn:aws:iam::123456789012:instance-profile/mock"
    }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

variables {
  name               = "kit"
  subnet_ids         = ["subnet-0123456789abcdef0"]
  security_group_ids = ["sg-0123456789abcdef0"]
}

run "defaults" {
  command = plan

  assert {
    condition     = aws_batch_compute_environment.spot[0].compute_resources[0].allocation_strategy == "SPOT_PRICE_CAPACITY_OPTIMIZED"
    error_message = "The default Spot allocation strategy must be SPOT_PRICE_CAPACITY_OPTIMIZED."
  }
  assert {
    condition     = aws_batch_compute_environment.spot[0].compute_resources[0].type == "SPOT" && aws_batch_compute_environment.spot[0].type == "MANAGED"
    error_message = "The Spot compute environment must be MANAGED with SPOT compute resources."
  }
  assert {
    condition     = length(aws_iam_role.spot_fleet) == 0 && aws_batch_compute_environment.spot[0].compute_resources[0].spot_iam_fleet_role == null
    error_message = "No Spot Fleet role unless allocation_strategy is BEST_FIT."
  }
  assert {
    condition     = output.spot_fleet_role_arn == null
    error_message = "spot_fleet_role_arn must be null without BEST_FIT."
  }
  assert {
    condition     = !contains(keys(aws_batch_compute_environment.spot[0].tags), "spotkit:chaos") && !contains(keys(aws_batch_compute_environment.spot[0].compute_resources[0].tags), "spotkit:chaos")
    error_message = "Without chaos_opt_in neither the compute environment nor its instances carry spotkit:chaos."
  }
  assert {
    condition     = aws_batch_compute_environment.spot[0].tags["Name"] == "kit-spot" && aws_batch_compute_environment.spot[0].compute_resources[0].tags["spotkit:compute-environment"] == "kit-spot"
    error_message = "The readable name kit-spot must be the Name tag and the instances' spotkit:compute-environment tag."
  }
  assert {
    condition     = output.spot_compute_environment_readable_name == "kit-spot"
    error_message = "spot_compute_environment_readable_name must be <name>-spot."
  }
  assert {
    condition     = length(aws_batch_compute_environment.on_demand) == 0 && output.on_demand_compute_environment_arn == null
    error_message = "No on-demand compute environment unless create_on_demand."
  }
  assert {
    condition     = length(aws_iam_role.service) == 1 && length(aws_iam_instance_profile.instance) == 1
    error_message = "The service role and the instance profile are created by default."
  }
}

run "best_fit_gets_the_spot_fleet_role" {
  command = plan

  variables {
    allocation_strategy = "BEST_FIT"
  }

  assert {
    condition     = length(aws_iam_role.spot_fleet) == 1 && aws_iam_role.spot_fleet[0].name == "kit-batch-spot-fleet"
    error_message = "BEST_FIT needs the Spot Fleet role."
  }
  assert {
    condition     = aws_iam_role_policy_attachment.spot_fleet[0].policy_arn == "arn:aws:iam::aws:policy/service-role/AmazonEC2SpotFleetTaggingRole"
    error_message = "The Spot Fleet role gets AmazonEC2SpotFleetTaggingRole."
  }
}

run "best_fit_with_a_role_passed_in" {
  command = plan

  variables {
    allocation_strategy    = "BEST_FIT"
    create_spot_fleet_role = false
    spot_fleet_role_arn    = "arn:aws:iam::123456789012:role/fleet"
  }

  assert {
    condition     = length(aws_iam_role.spot_fleet) == 0 && aws_batch_compute_environment.spot[0].compute_resources[0].spot_iam_fleet_role == "arn:aws:iam::123456789012:role/fleet"
    error_message = "A Spot Fleet role passed in is used and none is created."
  }
}

run "chaos_opt_in_tags_only_the_spot_side" {
  command = plan

  variables {
    chaos_opt_in     = true
    create_on_demand = true
  }

  assert {
    condition     = aws_batch_compute_environment.spot[0].tags["spotkit:chaos"] == "opt-in" && aws_batch_compute_environment.spot[0].compute_resources[0].tags["spotkit:chaos"] == "opt-in"
    error_message = "chaos_opt_in must tag the Spot compute environment and its instances spotkit:chaos = opt-in."
  }
  assert {
    condition     = !contains(keys(aws_batch_compute_environment.on_demand[0].tags), "spotkit:chaos") && !contains(keys(aws_batch_compute_environment.on_demand[0].compute_resources[0].tags), "spotkit:chaos")
    error_message = "The on-demand compute environment never opts in."
  }
  assert {
    condition     = aws_batch_compute_environment.on_demand[0].compute_resources[0].type == "EC2" && aws_batch_compute_environment.on_demand[0].tags["Name"] == "kit-ondemand"
    error_message = "The on-demand compute environment is EC2, Name tag kit-ondemand."
  }
  assert {
    condition     = aws_batch_compute_environment.on_demand[0].compute_resources[0].instance_type == toset(["m5.large"])
    error_message = "The on-demand instance types default to instance_types."
  }
}

run "names_are_read_from_the_arns" {
  # A mock apply: the provider would generate the name; here the ARNs are fixed.
  command = apply

  variables {
    create_on_demand = true
  }

  override_resource {
    target = aws_batch_compute_environment.spot[0]
    values = {
      arn = "arn:aws:batch:us-east-1:123456789012:compute-environment/terraform-20260101000000000000000001"
    }
  }
  override_resource {
    target = aws_batch_compute_environment.on_demand[0]
    values = {
      arn = "arn:aws:batch:us-east-1:123456789012:compute-environment/terraform-20260101000000000000000002"
    }
  }

  assert {
    condition     = output.spot_compute_environment_name == "terraform-20260101000000000000000001"
    error_message = "spot_compute_environment_name must be the last part of the compute environment's ARN."
  }
  assert {
    condition     = output.on_demand_compute_environment_name == "terraform-20260101000000000000000002"
    error_message = "on_demand_compute_environment_name must be the last part of its ARN."
  }
}

run "rejects_an_unknown_allocation_strategy" {
  command = plan

  variables {
    allocation_strategy = "LOWEST_PRICE"
  }

  expect_failures = [var.allocation_strategy]
}
