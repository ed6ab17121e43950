resource "aws_batch_compute_environment" "spot" {
  #checkov:skip=CKV_SPOTKIT_3:BEST_FIT on purpose: the fleet-capacity chaos method cuts this Spot Fleet
  compute_environment_name = "spot"
  type                     = "MANAGED"
  service_role             = "arn:aws:iam::123456789012:role/AWSBatchServiceRole"

  compute_resources {
    type                = "SPOT"
    allocation_strategy = "BEST_FIT"
    instance_type       = ["m5", "m6i", "c5"]
    instance_role       = "arn:aws:iam::123456789012:instance-profile/ecsInstanceRole"
    min_vcpus           = 0
    max_vcpus           = 64
    subnets             = ["subnet-0a1b2c3d4e5f60718"]
    security_group_ids  = ["sg-0a1b2c3d4e5f60718"]
    spot_iam_fleet_role = "arn:aws:iam::123456789012:role/AmazonEC2SpotFleetRole"
  }
}
