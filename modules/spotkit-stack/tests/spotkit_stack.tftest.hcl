# terraform test (Terraform >= 1.7): plans the whole composition against a mocked hashicorp/aws,
# no AWS account. tests/test_terraform_test.py runs it from make test.

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
  mock_data "aws_region" {
    defaults = {
      id   = "us-east-1"
      name = "us-east-1"
    }
  }
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
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
  # Any existing file: the package is only hashed (filebase64sha256), and nothing is uploaded.
  lambda_zip_path = "main.tf"
  job_definition = {
    image = "public.ecr.aws/amazonlinux/amazonlinux:2023"
  }
}

run "minimal_call" {
  command = plan

  assert {
    condition     = module.compute.spot_compute_environment_readable_name == "kit-spot" && output.compute_environment_readable_name == "kit-spot"
    error_message = "The Spot compute environment's readable name is <name>-spot."
  }
  assert {
    condition     = output.on_demand_job_queue_arn == null && output.on_demand_compute_environment_arn == null
    error_message = "No on-demand compute environment or queue by default."
  }
  assert {
    condition     = output.chaos_fis_role_arn == null && output.chaos_opt_in == false
    error_message = "No chaos templates and no opt-in tag by default."
  }
  assert {
    condition     = output.spot_fleet_role_arn == null && output.compute_environment_allocation_strategy == "SPOT_PRICE_CAPACITY_OPTIMIZED"
    error_message = "compute.allocation_strategy left out: batch-compute's default SPOT_PRICE_CAPACITY_OPTIMIZED applies, so no Spot Fleet role."
  }
  assert {
    condition     = output.resubmit_fallback_job_queue_arn == null
    error_message = "No fallback queue without compute.create_on_demand."
  }
}

run "on_demand_fallback_and_chaos" {
  command = plan

  variables {
    compute = {
      create_on_demand = true
    }
    chaos = {
      create                      = true
      opt_in                      = true
      create_stop_condition_alarm = true
      require_stop_condition      = true
    }
  }

  assert {
    condition     = output.chaos_opt_in == true && length(module.chaos.stop_condition_alarm_arns) == 1
    error_message = "chaos.opt_in tags the Spot side; create_stop_condition_alarm gives the templates one alarm stop condition."
  }
  assert {
    condition     = jsonencode(module.chaos.target_resource_tags) == jsonencode({ "spotkit:chaos" = "opt-in", "spotkit:compute-environment" = "kit-spot" })
    error_message = "The templates select the Spot compute environment's opted-in instances."
  }
  assert {
    condition     = module.on_demand_queue.name == "kit-ondemand" && module.spot_queue.name == "kit-spot"
    error_message = "One Spot queue and one on-demand queue."
  }
}

run "require_stop_condition_without_one_fails" {
  command = plan

  variables {
    chaos = {
      create                 = true
      require_stop_condition = true
    }
  }

  expect_failures = [var.chaos]
}

# Terraform converts an object argument to the declared object type by dropping the attributes the
# type does not declare, without an error or warning (Terraform 1.5 to 1.11 alike): a misspelt
# attribute is ignored and the child module's default applies. README.md says so; this run pins it.
run "misspelt_compute_attribute_is_dropped" {
  command = plan

  variables {
    compute = {
      instance_type = ["c5.large"]
    }
  }

  assert {
    condition     = !can(var.compute.instance_type) && var.compute.instance_types == null
    error_message = "Expected Terraform to drop the undeclared attribute instance_type (instance_types stays unset)."
  }
}
