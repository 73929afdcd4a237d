################################################################################
# General
################################################################################

variable "region" {
  type        = string
  description = "AWS region to deploy to. The Packer bake's default region is eu-west-1 as well."
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "The region must be an AWS region name such as eu-west-1."
  }
}

variable "name" {
  type        = string
  description = "Name (and prefix) of the stack's resources. Short, because ALB and target group names are limited to 32 characters."
  default     = "scaleapp"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}[a-z0-9]$", var.name))
    error_message = "The name must be 3 to 22 lower-case letters, digits or '-', start with a letter and not end with '-'."
  }

  # AWS refuses load balancer names that begin with "internal-" (the prefix of internal ALBs' DNS names).
  validation {
    condition     = !startswith(var.name, "internal-")
    error_message = "The name must not begin with \"internal-\": AWS refuses it for load balancers."
  }
}

variable "tags" {
  type        = map(string)
  description = "Extra tags for every resource, including the instances the ASG launches."
  default     = {}
}

################################################################################
# Network
################################################################################

variable "vpc_cidr" {
  type        = string
  description = "CIDR of the VPC, /16 to /19. The two public subnets are cidrsubnet(vpc_cidr, 8, 0..1): /24s for a /16, /27s for a /19."
  default     = "10.0.0.0/16"

  # The subnets are 8 bits longer than the VPC and hold the ALB, which needs a subnet of at least /27
  # with 8 free addresses in each of its zones (AWS's ALB guide), so the VPC can be at most a /19. AWS
  # would create a /20 VPC and its /28 subnets, but the ALB in them would fail or not scale.
  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && try(tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 19, false)
    error_message = "The vpc_cidr must be an IPv4 CIDR with a prefix between /16 and /19: the two subnets are 8 bits longer (cidrsubnet(vpc_cidr, 8, i)) and an ALB needs subnets of at least /27."
  }
}

variable "alb_ingress_cidrs" {
  type        = list(string)
  description = "CIDRs allowed to reach the load balancer on 80 (and 443 with a certificate). The default is the whole Internet: it is a public demo endpoint."
  default     = ["0.0.0.0/0"]

  validation {
    condition     = length(var.alb_ingress_cidrs) > 0 && alltrue([for c in var.alb_ingress_cidrs : can(cidrhost(c, 0)) && !can(regex(":", c))])
    error_message = "The alb_ingress_cidrs must hold at least one IPv4 CIDR such as 203.0.113.0/24."
  }
}

################################################################################
# Load balancer
################################################################################

variable "certificate_arn" {
  type        = string
  description = "ACM certificate for an HTTPS listener on 443. Empty: HTTP only. Set: port 80 redirects to HTTPS."
  default     = ""

  validation {
    condition     = var.certificate_arn == "" || can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+$", var.certificate_arn))
    error_message = "The certificate_arn must be empty or an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID)."
  }

  # An ALB only takes certificates from ACM in its own region; the apply would fail late, after the
  # VPC and the ALB exist.
  validation {
    condition     = var.certificate_arn == "" || try(split(":", var.certificate_arn)[3] == var.region, false)
    error_message = "The certificate_arn must be an ACM certificate in the stack's region (var.region): an ALB cannot use a certificate from another region."
  }
}

# An ACM certificate covers names you own, never the ALB's *.elb.amazonaws.com name, so with HTTPS the
# URL the outputs print (and scripts/smoke.sh uses) must be that name: required with certificate_arn.
variable "public_hostname" {
  type        = string
  description = "DNS name clients use (a record you create: CNAME or alias to alb_dns_name; this stack manages no DNS). Required with certificate_arn, which must cover it; used in alb_url and the commands output. Empty: alb_url is http://<alb_dns_name>."
  default     = ""

  validation {
    condition     = var.public_hostname == "" || (length(var.public_hostname) <= 253 && can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$", var.public_hostname)))
    error_message = "The public_hostname must be empty or a lowercase DNS name such as scaleapp.example.com (no scheme, port or path)."
  }

  validation {
    condition     = var.certificate_arn == "" || var.public_hostname != ""
    error_message = "With certificate_arn set, public_hostname must be set to the name the certificate covers: TLS to the ALB's own DNS name always fails."
  }
}

variable "alb_deletion_protection" {
  type        = bool
  description = "Protect the load balancer from deletion. Off by default so the demo's terraform destroy works; turn it on for anything long-lived."
  default     = false
}

################################################################################
# What the instances run
################################################################################

variable "delivery" {
  type        = string
  description = "How the service reaches the instances: \"ami\" (the golden AMI baked by packer/, nothing downloaded at boot) or \"container\" (Amazon Linux 2023, Docker installed at boot, the image pulled from this stack's ECR repository)."
  default     = "ami"

  validation {
    condition     = contains(["ami", "container"], var.delivery)
    error_message = "The delivery must be \"ami\" or \"container\"."
  }
}

# The four ami_* variables are what the Packer tfvars post-processor writes to ami.auto.tfvars.json
# (keys ami_id, ami_ids, ami_version, ami_commit). Terraform warns about values for undeclared
# variables, so all four are declared even where only one decides.
variable "ami_id" {
  type        = string
  description = "AMI to launch (delivery = \"ami\"). Written by packer build into ami.auto.tfvars.json. Used when ami_ids has no entry for the region; empty: the newest AMI of this account tagged app = scaleapp. Either way the plan fails unless the AMI belongs to this account and carries that tag."
  default     = ""

  validation {
    condition     = var.ami_id == "" || can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "The ami_id must be empty or an AMI ID such as ami-0123456789abcdef0."
  }
}

variable "ami_ids" {
  type        = map(string)
  description = "AMI per region from the same bake (packer's ami_regions copies). The entry for var.region wins over ami_id, so one tfvars file serves every region the AMI was copied to."
  default     = {}

  validation {
    condition     = alltrue([for r, id in var.ami_ids : can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", r)) && can(regex("^ami-[0-9a-f]{8,17}$", id))])
    error_message = "The ami_ids must map region names to AMI IDs, e.g. { \"eu-west-1\" = \"ami-0123456789abcdef0\" }."
  }
}

variable "ami_architecture" {
  type        = string
  description = "Architecture the AMI was baked for, as AWS names it (\"x86_64\" or \"arm64\"), written by packer build. Checked against the AMI itself and against instance_type before anything launches. Empty (a tfvars file from before this key, or no bake): the AMI's own architecture is checked against instance_type."
  default     = ""

  validation {
    condition     = contains(["", "x86_64", "arm64"], var.ami_architecture)
    error_message = "The ami_architecture must be empty, \"x86_64\" or \"arm64\" (AWS's names, as packer build writes them)."
  }
}

variable "ami_version" {
  type        = string
  description = "Version of the service baked into the AMI (written by packer build); tags the instances."
  default     = ""
}

variable "ami_commit" {
  type        = string
  description = "Commit the AMI's binary was built from (written by packer build); tags the instances."
  default     = ""
}

variable "container_image_tag" {
  type        = string
  description = "Tag of the image in this stack's ECR repository to run (delivery = \"container\"). Tags are immutable, so a new tag is a new launch template version and an instance refresh."
  default     = ""

  validation {
    condition     = var.delivery != "container" || can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.container_image_tag))
    error_message = "With delivery = \"container\", container_image_tag must be set to a Docker tag (letters, digits, '_', '.', '-'; at most 128)."
  }
}

variable "container_host_ami_parameter" {
  type        = string
  description = "SSM public parameter naming the Amazon Linux 2023 AMI the container path boots (use the arm64 one with a Graviton instance_type)."
  default     = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"

  # Only the standard AL2023 images: the user data installs Docker with dnf and logs in to ECR with the
  # aws CLI, which the al2023-ami-minimal-* images lack, so the pull would fail on every boot and the
  # ELB check would replace the instance in a loop. Narrowing the choice beats installing awscli-2 in
  # user data, which would add a download to every scale-out of the path that is already the slow one.
  validation {
    condition     = can(regex("^/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-[a-z0-9.]+-(x86_64|arm64)$", var.container_host_ami_parameter))
    error_message = "The container_host_ami_parameter must be a standard Amazon Linux 2023 parameter, /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-<default|6.1|...>-<x86_64|arm64> (the minimal images lack the aws CLI the ECR login needs)."
  }
}

variable "ecr_keep_images" {
  type        = number
  description = "How many images the ECR repository keeps; older ones expire (lifecycle policy)."
  default     = 10

  validation {
    condition     = var.ecr_keep_images >= 1 && var.ecr_keep_images <= 1000 && floor(var.ecr_keep_images) == var.ecr_keep_images
    error_message = "The ecr_keep_images must be a whole number from 1 to 1000."
  }
}

variable "ecr_force_delete" {
  type        = bool
  description = "Let terraform destroy delete the ECR repository with its images. On by default for the demo's clean teardown."
  default     = true
}

################################################################################
# Service settings (written to /etc/scaleapp/env by user data)
################################################################################

variable "stress_enabled" {
  type        = bool
  description = "Serve the /cpu and /health/fail endpoints (STRESS_ENABLED). Off: they answer 403."
  default     = true
}

variable "stress_token" {
  type        = string
  description = "When set, /cpu and /health/fail need 'Authorization: Bearer <token>' (STRESS_TOKEN). It travels in user data, which anyone allowed ec2:DescribeLaunchTemplateVersions or with a shell on the instance can read: a speed bump for a public demo, not a secret store."
  default     = ""
  sensitive   = true

  validation {
    condition     = can(regex("^[A-Za-z0-9._~+/=-]*$", var.stress_token))
    error_message = "The stress_token may hold only letters, digits and ._~+/=- (it is written unquoted to an env file)."
  }
}

variable "stress_allowed_cidrs" {
  type        = list(string)
  description = "Clients allowed to reach /cpu and /health/fail through the load balancer (every other path except the public read-only ones answers 403 to everyone else, at the ALB). Empty (default): nobody on the Internet can start a stress job. For the demo: [\"$(curl -s https://checkip.amazonaws.com)/32\"]. Opening it to 0.0.0.0/0 requires stress_token."
  default     = []

  validation {
    condition     = alltrue([for c in var.stress_allowed_cidrs : can(cidrhost(c, 0))]) && length(var.stress_allowed_cidrs) <= 20
    error_message = "The stress_allowed_cidrs must be at most 20 CIDRs such as 203.0.113.7/32."
  }

  validation {
    condition     = !anytrue([for c in var.stress_allowed_cidrs : endswith(c, "/0")]) || var.stress_token != ""
    error_message = "The stress_allowed_cidrs open /cpu to the whole Internet (a /0): set stress_token as well, or anyone can spend your money."
  }
}

variable "log_level" {
  type        = string
  description = "Service log level (LOG_LEVEL)."
  default     = "info"

  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.log_level)
    error_message = "The log_level must be debug, info, warn or error."
  }
}

################################################################################
# Instances and Auto Scaling group
################################################################################

variable "instance_type" {
  type        = string
  description = "Instance type. Must match the AMI's architecture (t3.* for x86_64, t4g.* for arm64)."
  default     = "t3.micro"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.instance_type))
    error_message = "The instance_type must look like t3.micro."
  }
}

variable "root_volume_size" {
  type        = number
  description = "Root volume size in GiB (encrypted gp3). Null: the AMI's own size."
  default     = null

  validation {
    condition     = var.root_volume_size == null || try(var.root_volume_size >= 8 && var.root_volume_size <= 1024 && floor(var.root_volume_size) == var.root_volume_size, false)
    error_message = "The root_volume_size must be null or a whole number from 8 to 1024 GiB (Amazon Linux 2023 needs 8)."
  }
}

variable "min_size" {
  type        = number
  description = "Fewest instances the group runs."
  default     = 1

  validation {
    condition     = var.min_size >= 0 && floor(var.min_size) == var.min_size
    error_message = "The min_size must be a whole number >= 0."
  }
}

variable "max_size" {
  type        = number
  description = "Most instances the group runs."
  default     = 4

  validation {
    condition     = var.max_size >= 1 && var.max_size >= var.min_size && floor(var.max_size) == var.max_size
    error_message = "The max_size must be a whole number >= 1 and >= min_size."
  }
}

variable "desired_capacity" {
  type        = number
  description = "Instances at creation. Terraform sets it once; afterwards the scaling policies own it (ignore_changes), so an apply never undoes a scale-out."
  default     = 2

  validation {
    condition     = var.desired_capacity >= var.min_size && var.desired_capacity <= var.max_size && floor(var.desired_capacity) == var.desired_capacity
    error_message = "The desired_capacity must be a whole number between min_size and max_size."
  }
}

variable "health_check_grace_period" {
  type        = number
  description = "Seconds after InService before the ASG acts on the ALB's health verdict. Null: 60 for delivery = \"ami\", 180 for \"container\" (see compute.tf)."
  default     = null

  validation {
    condition     = var.health_check_grace_period == null || try(var.health_check_grace_period >= 0 && var.health_check_grace_period <= 7200 && floor(var.health_check_grace_period) == var.health_check_grace_period, false)
    error_message = "The health_check_grace_period must be null or a whole number of seconds from 0 to 7200."
  }
}

variable "default_instance_warmup" {
  type        = number
  description = "Seconds before a new instance's metrics count for scaling and instance refresh. Null: 60 for delivery = \"ami\", 180 for \"container\"."
  default     = null

  validation {
    condition     = var.default_instance_warmup == null || try(var.default_instance_warmup >= 0 && var.default_instance_warmup <= 3600 && floor(var.default_instance_warmup) == var.default_instance_warmup, false)
    error_message = "The default_instance_warmup must be null or a whole number of seconds from 0 to 3600."
  }
}

variable "instance_refresh_min_healthy_percentage" {
  type        = number
  description = "Share of desired capacity that must stay healthy during an instance refresh. 100 (default) means new instances launch and pass the health check before old ones go."
  default     = 100

  validation {
    condition     = var.instance_refresh_min_healthy_percentage >= 50 && var.instance_refresh_min_healthy_percentage <= 100 && floor(var.instance_refresh_min_healthy_percentage) == var.instance_refresh_min_healthy_percentage
    error_message = "The instance_refresh_min_healthy_percentage must be a whole number from 50 to 100."
  }
}

variable "enable_warm_pool" {
  type        = bool
  description = "Keep stopped, pre-booted instances in a warm pool for faster scale-out. Only with delivery = \"ami\": without a lifecycle hook the pool may stop an instance before the container path's user data has finished."
  default     = false

  validation {
    condition     = !var.enable_warm_pool || var.delivery == "ami"
    error_message = "The warm pool is only supported with delivery = \"ami\"."
  }
}

variable "warm_pool_min_size" {
  type        = number
  description = "Fewest instances the warm pool keeps (stopped) when enable_warm_pool is true. The pool's size is max(warm_pool_min_size, warm_pool_max_prepared_capacity - desired capacity); with warm_pool_max_prepared_capacity null AWS uses max_size, so the pool holds max_size - desired instances (at least warm_pool_min_size)."
  default     = 1

  validation {
    condition     = var.warm_pool_min_size >= 0 && floor(var.warm_pool_min_size) == var.warm_pool_min_size
    error_message = "The warm_pool_min_size must be a whole number >= 0."
  }
}

variable "warm_pool_max_prepared_capacity" {
  type        = number
  description = "Most instances the group and its warm pool hold together (running + stopped); the pool fills the difference to the desired capacity. Null: AWS's default, the group's max_size, i.e. max_size - desired stopped instances, each paying for its EBS volume."
  default     = null

  validation {
    condition     = var.warm_pool_max_prepared_capacity == null || try(var.warm_pool_max_prepared_capacity >= var.min_size && var.warm_pool_max_prepared_capacity <= var.max_size && floor(var.warm_pool_max_prepared_capacity) == var.warm_pool_max_prepared_capacity, false)
    error_message = "The warm_pool_max_prepared_capacity must be null or a whole number from min_size to max_size."
  }
}

variable "enable_cloudwatch_agent" {
  type        = bool
  description = "Attach CloudWatchAgentServerPolicy to the instance role, for an AMI that runs the CloudWatch agent (memory, disk, journald logs)."
  default     = false
}

################################################################################
# Scaling
################################################################################

variable "scaling_mode" {
  type        = string
  description = "\"target_tracking\": keep the group's average CPU at cpu_target. \"alarm\": CloudWatch alarms on CPU with step scaling, +1 above cpu_high_threshold, -1 below cpu_low_threshold."
  default     = "target_tracking"

  validation {
    condition     = contains(["target_tracking", "alarm"], var.scaling_mode)
    error_message = "The scaling_mode must be \"target_tracking\" or \"alarm\"."
  }
}

variable "cpu_target" {
  type        = number
  description = "Average CPU utilisation (%) target tracking aims for."
  default     = 50

  validation {
    condition     = var.cpu_target >= 10 && var.cpu_target <= 90 && floor(var.cpu_target) == var.cpu_target
    error_message = "The cpu_target must be a whole number from 10 to 90 percent."
  }
}

variable "cpu_high_threshold" {
  type        = number
  description = "Alarm mode: average CPU (%) above which the group adds an instance."
  default     = 70

  validation {
    condition     = var.cpu_high_threshold >= 1 && var.cpu_high_threshold <= 100 && floor(var.cpu_high_threshold) == var.cpu_high_threshold
    error_message = "The cpu_high_threshold must be a whole number from 1 to 100 percent."
  }
}

variable "cpu_low_threshold" {
  type        = number
  description = "Alarm mode: average CPU (%) below which the group removes an instance."
  default     = 30

  validation {
    condition     = var.cpu_low_threshold >= 0 && var.cpu_low_threshold < var.cpu_high_threshold && floor(var.cpu_low_threshold) == var.cpu_low_threshold
    error_message = "The cpu_low_threshold must be a whole number >= 0 and below cpu_high_threshold."
  }
}
