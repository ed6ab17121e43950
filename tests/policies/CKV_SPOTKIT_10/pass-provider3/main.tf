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

resource "aws_batch_compute_environment" "ondemand" {
  compute_environment_name = "ondemand"
  type                     = "MANAGED"
  service_role             = "arn:aws:iam::123456789012:role/AWSBatchServiceRole"

  compute_resources {
    type               = "EC2"
    instance_type      = ["m5", "m6i", "c5"]
    instance_role      = "arn:aws:iam::123456789012:instance-profile/ecsInstanceRole"
    min_vcpus          = 0
    max_vcpus          = 64
    subnets            = ["subnet-0a1b2c3d4e5f60718"]
    security_group_ids = ["sg-0a1b2c3d4e5f60718"]
  }
}

# hashicorp/aws 3.x/4.x shape: the ordered compute_environments list of ARNs.
resource "aws_batch_job_queue" "queue" {
  name                 = "queue"
  state                = "ENABLED"
  priority             = 1
  compute_environments = [aws_batch_compute_environment.spot.arn, aws_batch_compute_environment.ondemand.arn]
}
