variable "name" {
  description = "Name prefix of every resource (settings.yaml: name)."
  type        = string
}

variable "tags" {
  description = "Tags for every resource (settings.yaml: tags)."
  type        = map(string)
  default     = {}
}

variable "lambda_zip_path" {
  description = "Path of the resubmit function's package, built by `spotkit package`."
  type        = string
}

variable "compute" {
  description = "Compute settings (settings.yaml: compute); see modules/spotkit-stack."
  type        = any
  default     = {}
}

variable "job_queue" {
  description = "Job queue settings (settings.yaml: job_queue); see modules/spotkit-stack."
  type        = any
  default     = {}
}

variable "job_definition" {
  description = "Job definition settings (settings.yaml: job_definition); see modules/spotkit-stack."
  type        = any
}

variable "resubmit" {
  description = "Resubmit function settings (settings.yaml: resubmit); see modules/spotkit-stack."
  type        = any
  default     = {}
}

variable "chaos" {
  description = "Chaos settings (settings.yaml: chaos): AWS FIS experiment templates and the Spot compute environment's opt-in; see modules/spotkit-stack."
  type        = any
  default     = {}
}
