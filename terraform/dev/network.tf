variable "subnet_ids" {
  description = "Existing subnet IDs for the compute environments (settings.yaml: network.subnet_ids)."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Existing security group IDs for the compute environments (settings.yaml: network.security_group_ids)."
  type        = list(string)
}
