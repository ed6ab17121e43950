variable "vpc_cidr" {
  description = "CIDR block of the emulated VPC (settings.yaml: network.vpc_cidr); two /24 subnets are cut from it."
  type        = string
  default     = "10.42.0.0/16"
}
