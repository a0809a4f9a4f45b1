# One VM per node name, keyed by name: removing "talent-mesh-node-2" from var.node_names
# destroys exactly that VM (a `count` would destroy the highest index instead of the node
# ballast drained). The workflow computes the names from ballast's payload (next_nodes.py).
terraform {
  required_version = ">= 1.5"
  required_providers {
    contabo = {
      source  = "contabo/contabo"
      version = ">= 0.1.14"
    }
  }
  # State must outlive the runner; any backend works. The workflow passes the key per group.
  backend "s3" {}
}

provider "contabo" {
  oauth2_client_id     = var.contabo_client_id
  oauth2_client_secret = var.contabo_client_secret
  oauth2_user          = var.contabo_user
  oauth2_pass          = var.contabo_password
}

resource "contabo_instance" "node" {
  for_each     = toset(var.node_names)
  display_name = each.key
  product_id   = var.product_id
  region       = var.region
  image_id     = var.image_id
  period       = 1
  # The Node registers with its VM's name and the group's label: how ballast counts it.
  user_data = templatefile("${path.module}/cloud-init.yaml.tftpl", {
    node_name = each.key
    nodegroup = var.nodegroup
    k3s_url   = var.k3s_url
    k3s_token = var.k3s_token
  })
}

output "node_names" {
  description = "The nodes this state holds: the next run's --current."
  value       = sort(keys(contabo_instance.node))
}
