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

run "plans_every_group" {
  command = plan

  assert {
    condition     = module.spotkit.job_queue_name == "spotkit-complete-spot" && module.spotkit.on_demand_job_queue_name == "spotkit-complete-ondemand"
    error_message = "A Spot job queue and the on-demand fallback queue."
  }
  assert {
    condition     = output.compute_environment_readable_name == "spotkit-complete-spot" && module.spotkit.compute_environment_allocation_strategy == "SPOT_PRICE_CAPACITY_OPTIMIZED"
    error_message = "The Spot compute environment: readable name and allocation strategy."
  }
  assert {
    condition     = module.spotkit.chaos_opt_in == true && jsonencode(module.spotkit.chaos_opt_in_tag) == jsonencode({ "spotkit:chaos" = "opt-in" })
    error_message = "The Spot compute environment opts in to the chaos experiments."
  }
}
