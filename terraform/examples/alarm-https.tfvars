# The seed's scaling design (CloudWatch alarms + step scaling) behind HTTPS, with the stress endpoints
# protected by a token: terraform apply -var-file=examples/alarm-https.tfvars -var stress_token=...
scaling_mode       = "alarm"
cpu_high_threshold = 70
cpu_low_threshold  = 30
certificate_arn    = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
alb_ingress_cidrs  = ["203.0.113.0/24"]
enable_warm_pool   = true
