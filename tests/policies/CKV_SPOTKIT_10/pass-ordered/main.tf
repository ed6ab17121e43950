# No FAILED rule, but the queue orders two compute environments in compute_environment_order
# blocks (Spot first, then on-demand): the on-demand one is the way out.
resource "aws_batch_compute_environment" "spot" {
  compute_environment_name = "spot"
  type                     = "MANAGED"
  service_role             = "arn:aws:iam::123456789012:role/AWSBatchServiceRole"

  compute_resources {
    type                = "SPOT"
    allocation_strategy = "SPOT_PRICE_CAPACITY_OPTIMIZED"
    instance_type       = ["m5", "m6i", "c5"]
    instance_role       = "arn:aws:iam::123456789012:instance-profile/ecsInstanceRole"
    min_vcpus           = 0
    max_vcpus           = 64
    subnets             = ["subnet-0a1b2c3d4e5f60718"]
    security_group_ids  = ["sg-0a1b2c3d4e5f60718"]
  }
}

resource "aws_batch_compute_environment" "on_demand" {
  compute_environment_name = "on-demand"
  type                     = "MANAGED"
  service_role             = "arn:aws:iam::123456789012:role/AWSBatchServiceRole"

  compute_resources {
    type                = "EC2"
    allocation_strategy = "BEST_FIT_PROGRESSIVE"
    instance_type       = ["m5", "m6i", "c5"]
    instance_role       = "arn:aws:iam::123456789012:instance-profile/ecsInstanceRole"
    min_vcpus           = 0
    max_vcpus           = 16
    subnets             = ["subnet-0a1b2c3d4e5f60718"]
    security_group_ids  = ["sg-0a1b2c3d4e5f60718"]
  }
}

resource "aws_batch_job_queue" "queue" {
  name     = "queue"
  state    = "ENABLED"
  priority = 1

  compute_environment_order {
    order               = 1
    compute_environment = aws_batch_compute_environment.spot.arn
  }

  compute_environment_order {
    order               = 2
    compute_environment = aws_batch_compute_environment.on_demand.arn
  }
}
