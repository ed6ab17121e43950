variable "create" {
  description = "Whether to create any resource in this module."
  type        = bool
  default     = true
  nullable    = false
}

variable "name" {
  description = "Name prefix: the compute environments' readable names (Name tags; the names themselves are generated) are \"<name>-spot\" and \"<name>-ondemand\", IAM roles \"<name>-batch-*\"."
  type        = string
}

variable "tags" {
  description = "Tags for every resource (and, with the compute environment name added, for the EC2 instances Batch launches)."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "state" {
  description = "State of the compute environments: ENABLED or DISABLED."
  type        = string
  default     = "ENABLED"
  nullable    = false

  validation {
    condition     = contains(["ENABLED", "DISABLED"], var.state)
    error_message = "The state must be ENABLED or DISABLED."
  }
}

################################################################################
# Network (always inputs: this module never creates a VPC)
################################################################################

variable "subnet_ids" {
  description = "Subnet IDs the instances are launched in (spread over several Availability Zones for Spot capacity)."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security group IDs attached to the instances."
  type        = list(string)
}

################################################################################
# Spot compute environment
################################################################################

variable "instance_types" {
  description = "Instance types (or families) the Spot compute environment may launch, e.g. [\"m5.large\", \"m5a.large\", \"m6i.large\"]. More types means more Spot pools to draw from."
  type        = list(string)
  default     = ["m5.large"]
  nullable    = false
}

variable "allocation_strategy" {
  description = <<-EOT
    Spot allocation strategy. BEST_FIT (the AWS default when unset) makes Batch request a Spot Fleet,
    which needs the Spot Fleet role; SPOT_CAPACITY_OPTIMIZED and SPOT_PRICE_CAPACITY_OPTIMIZED make
    Batch use an EC2 Auto Scaling group and need no Spot Fleet role. The default,
    SPOT_PRICE_CAPACITY_OPTIMIZED, is AWS's recommendation for Spot (fewer interruptions at a
    low price). See AWS Batch User Guide, "Allocation strategies for compute resources".
  EOT
  type        = string
  default     = "SPOT_PRICE_CAPACITY_OPTIMIZED"
  nullable    = false

  validation {
    condition     = contains(["BEST_FIT", "BEST_FIT_PROGRESSIVE", "SPOT_CAPACITY_OPTIMIZED", "SPOT_PRICE_CAPACITY_OPTIMIZED"], var.allocation_strategy)
    error_message = "The allocation_strategy must be BEST_FIT, BEST_FIT_PROGRESSIVE, SPOT_CAPACITY_OPTIMIZED or SPOT_PRICE_CAPACITY_OPTIMIZED."
  }
}

variable "min_vcpus" {
  description = "Minimum vCPUs kept running (0 lets the compute environment scale to zero)."
  type        = number
  default     = 0
  nullable    = false
}

variable "max_vcpus" {
  description = "Maximum vCPUs the Spot compute environment may scale to."
  type        = number
  default     = 16
  nullable    = false
}

variable "desired_vcpus" {
  description = "Initial desired vCPUs (null lets Batch decide). Batch changes it as jobs arrive, so later drift is ignored."
  type        = number
  default     = null
}

variable "bid_percentage" {
  description = "Maximum Spot price as a percentage of the On-Demand price (1-100). Only used by BEST_FIT; AWS recommends leaving it at 100."
  type        = number
  default     = 100
  nullable    = false

  validation {
    condition     = var.bid_percentage >= 1 && var.bid_percentage <= 100
    error_message = "The bid_percentage must be between 1 and 100."
  }
}

variable "image_id" {
  description = "AMI ID override for the instances (null: the ECS-optimized Amazon Linux AMI chosen by Batch)."
  type        = string
  default     = null
}

variable "ec2_key_pair" {
  description = "EC2 key pair name for SSH access to the instances (null: none)."
  type        = string
  default     = null
}

variable "launch_template_id" {
  description = "Launch template ID applied to the instances of both compute environments (null: none)."
  type        = string
  default     = null
}

variable "launch_template_version" {
  description = "Launch template version ($Latest, $Default or a number); used only with launch_template_id."
  type        = string
  default     = "$Default"
  nullable    = false
}

variable "chaos_opt_in" {
  description = <<-EOT
    Whether the Spot compute environment opts in to chaos experiments: adds the tag
    spotkit:chaos = opt-in to the compute environment and to compute_resources.tags, which Batch
    copies to every instance it launches; AWS FIS experiments (modules/chaos-fis) select and may
    act on tagged instances only. The on-demand compute environment never opts in. With
    hashicorp/aws < 5.10, changing compute_resources.tags replaces the compute environment.
  EOT
  type        = bool
  default     = false
  nullable    = false
}

################################################################################
# Optional on-demand (EC2) compute environment
################################################################################

variable "create_on_demand" {
  description = "Whether to also create an on-demand (EC2) compute environment, e.g. as the fallback entry of a job queue."
  type        = bool
  default     = false
  nullable    = false
}

variable "on_demand_instance_types" {
  description = "Instance types for the on-demand compute environment (null: same as instance_types)."
  type        = list(string)
  default     = null
}

variable "on_demand_allocation_strategy" {
  description = "Allocation strategy of the on-demand compute environment: BEST_FIT or BEST_FIT_PROGRESSIVE."
  type        = string
  default     = "BEST_FIT_PROGRESSIVE"
  nullable    = false

  validation {
    condition     = contains(["BEST_FIT", "BEST_FIT_PROGRESSIVE"], var.on_demand_allocation_strategy)
    error_message = "The on_demand_allocation_strategy must be BEST_FIT or BEST_FIT_PROGRESSIVE."
  }
}

variable "on_demand_min_vcpus" {
  description = "Minimum vCPUs of the on-demand compute environment."
  type        = number
  default     = 0
  nullable    = false
}

variable "on_demand_max_vcpus" {
  description = "Maximum vCPUs of the on-demand compute environment."
  type        = number
  default     = 16
  nullable    = false
}

################################################################################
# IAM (each role can be passed in instead of created)
################################################################################

variable "iam_role_path" {
  description = "Path of the IAM roles this module creates."
  type        = string
  default     = "/"
  nullable    = false
}

variable "iam_role_permissions_boundary" {
  description = "ARN of a permissions boundary for the IAM roles this module creates (null: none)."
  type        = string
  default     = null
}

variable "create_service_role" {
  description = "Whether to create the Batch service role (AWSBatchServiceRole managed policy). With false and service_role_arn = null, Batch uses its service-linked role AWSServiceRoleForBatch."
  type        = bool
  default     = true
  nullable    = false
}

variable "service_role_arn" {
  description = "Existing Batch service role ARN, used when create_service_role is false."
  type        = string
  default     = null
}

variable "create_instance_role" {
  description = "Whether to create the ECS instance role and instance profile (AmazonEC2ContainerServiceforEC2Role managed policy)."
  type        = bool
  default     = true
  nullable    = false
}

variable "instance_profile_arn" {
  description = "Existing ECS instance profile ARN (or name), used when create_instance_role is false."
  type        = string
  default     = null
}

variable "create_spot_fleet_role" {
  description = "Whether to create the Spot Fleet role (AmazonEC2SpotFleetTaggingRole managed policy). It is created only when allocation_strategy is BEST_FIT, the only case where Batch uses a Spot Fleet."
  type        = bool
  default     = true
  nullable    = false
}

variable "spot_fleet_role_arn" {
  description = "Existing Spot Fleet role ARN, used when create_spot_fleet_role is false and allocation_strategy is BEST_FIT."
  type        = string
  default     = null
}
