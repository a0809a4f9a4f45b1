variable "nodegroup" {
  description = "The ballast NodeGroup (client_payload.nodegroup); every node gets the label ballast.dev/nodegroup=<this>."
  type        = string
}

variable "node_names" {
  description = "The node names to converge on (next_nodes.py from client_payload.desired and .remove)."
  type        = list(string)
  validation {
    condition     = length(var.node_names) == length(distinct(var.node_names))
    error_message = "node_names must not repeat a name."
  }
}

variable "product_id" {
  description = "Contabo product (the NodeGroup offering's id), e.g. V92."
  type        = string
  default     = "V92"
}

variable "region" {
  type    = string
  default = "EU"
}

variable "image_id" {
  description = "Contabo image id (Ubuntu 22.04 or newer)."
  type        = string
}

variable "k3s_url" {
  type = string
}

variable "k3s_token" {
  type      = string
  sensitive = true
}

variable "contabo_client_id" {
  type      = string
  sensitive = true
}

variable "contabo_client_secret" {
  type      = string
  sensitive = true
}

variable "contabo_user" {
  type      = string
  sensitive = true
}

variable "contabo_password" {
  type      = string
  sensitive = true
}
