# PRE-ISSUE-14 SHAPE (test fixture, never applied): modules/job-queue/main.tf as of commit 42a5d48,
# verbatim below this header. hashicorp/aws 6.0 removed compute_environments (compute_environment_order
# blocks instead); tests/test_provider_schema.py asserts the exact findings.

# https://docs.aws.amazon.com/batch/latest/userguide/job_queue_parameters.html
# hashicorp/aws 3.x-5.x take the ordered `compute_environments` list (order = list position);
# 5.x deprecates it in favour of compute_environment_order blocks, removed in 6.0.
resource "aws_batch_job_queue" "this" {
  #checkov:skip=CKV_SPOTKIT_8:job_state_time_limit_action exists from hashicorp/aws 5.63.1 only, and the module supports 3.39 (the emulator environment's lock) through 5.x: Terraform rejects an unknown block on an older provider even with count = 0. Add it when the provider floor reaches 5.63.1.
  count = var.create ? 1 : 0

  name                 = var.name
  state                = var.state
  priority             = var.priority
  compute_environments = var.compute_environment_arns

  tags = merge(var.tags, { Name = var.name })
}
