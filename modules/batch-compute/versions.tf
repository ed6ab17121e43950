terraform {
  # >= 1.5: optional() object attributes with defaults (1.3), nullable = false (1.1), and 1.5.7 is the
  # last MPL release, which spotkit builds where PATH has no Terraform (docs/providers.md).
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # >= 5.77.0: job_state_time_limit_action (5.63.1), compute_environment_order (5.40.0) and the
      # python3.13 runtime (5.77.0); < 7.0: one source valid on 5.x and 6.x (docs/providers.md).
      version = ">= 5.77.0, < 7.0"
    }
  }
}
