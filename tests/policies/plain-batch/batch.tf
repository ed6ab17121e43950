# Nightly backtests on Spot, set up the way the console walkthroughs do it.

resource "aws_iam_role" "batch_service" {
  name = "backtest-batch-service"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "batch.amazonaws.com" } }]
  })
}

resource "aws_iam_role_policy_attachment" "batch_service" {
  role       = aws_iam_role.batch_service.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSBatchServiceRole"
}

resource "aws_iam_role" "spot_fleet" {
  name = "backtest-spot-fleet"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "spotfleet.amazonaws.com" } }]
  })
}

resource "aws_iam_role_policy_attachment" "spot_fleet" {
  role       = aws_iam_role.spot_fleet.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonEC2SpotFleetTaggingRole"
}

resource "aws_iam_instance_profile" "ecs_instance" {
  name = "backtest-ecs-instance"
  role = "ecsInstanceRole"
}

resource "aws_batch_compute_environment" "spot" {
  compute_environment_name = "backtest-spot"
  type                     = "MANAGED"
  service_role             = aws_iam_role.batch_service.arn

  compute_resources {
    type                = "SPOT"
    allocation_strategy = "BEST_FIT"
    bid_percentage      = 100
    spot_iam_fleet_role = aws_iam_role.spot_fleet.arn
    instance_role       = aws_iam_instance_profile.ecs_instance.arn
    instance_type       = ["m5.large"]
    min_vcpus           = 0
    max_vcpus           = 64
    subnets             = var.subnet_ids
    security_group_ids  = var.security_group_ids
  }

  depends_on = [aws_iam_role_policy_attachment.batch_service]
}

resource "aws_batch_job_queue" "backtest" {
  name     = "backtest-spot-queue"
  state    = "ENABLED"
  priority = 1

  compute_environment_order {
    order               = 1
    compute_environment = aws_batch_compute_environment.spot.arn
  }
}

resource "aws_batch_job_definition" "backtest" {
  name = "backtest"
  type = "container"

  container_properties = jsonencode({
    image   = "123456789012.dkr.ecr.us-east-1.amazonaws.com/backtest:latest"
    command = ["python", "-m", "backtest", "Ref::strategy"]
    resourceRequirements = [
      { type = "VCPU", value = "2" },
      { type = "MEMORY", value = "4096" },
    ]
    environment = [
      { name = "DB_USER", value = "backtest" },
      { name = "DB_PASSWORD", value = "hunter2-not-a-real-password" },
    ]
  })
}
