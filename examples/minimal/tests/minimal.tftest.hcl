# terraform test (Terraform >= 1.7): plans this example against a mocked hashicorp/aws, no AWS
# account. tests/test_terraform_test.py runs it (after terraform validate) from make test.

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
  subnet_ids         = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  security_group_ids = ["sg-0123456789abcdef0"]
  # Any existing file: the package is only hashed (filebase64sha256), and nothing is uploaded.
  lambda_zip_path = "main.tf"
}

run "plans_with_the_required_inputs_only" {
  command = plan

  assert {
    condition     = output.compute_environment_readable_name == "spotkit-minimal-spot"
    error_message = "The Spot compute environment's readable name is <name>-spot."
  }
  assert {
    condition     = module.spotkit.job_queue_name == "spotkit-minimal-spot" && module.spotkit.on_demand_job_queue_name == null
    error_message = "One Spot job queue and no on-demand queue by default."
  }
  assert {
    condition     = module.spotkit.compute_environment_allocation_strategy == "SPOT_PRICE_CAPACITY_OPTIMIZED" && module.spotkit.spot_fleet_role_arn == null
    error_message = "Default allocation strategy, so no Spot Fleet role."
  }
  assert {
    condition     = module.spotkit.chaos_opt_in == false && module.spotkit.chaos_fis_role_arn == null
    error_message = "No chaos experiments and no opt-in tag by default."
  }
}
