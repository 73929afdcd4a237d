# The seed's scaling design (CloudWatch alarms + step scaling) behind HTTPS, with the stress endpoints
# protected by a token. Pass the token through the environment, not -var (ps, shell history):
#   read -rs TF_VAR_stress_token; export TF_VAR_stress_token
#   terraform apply -var-file=examples/alarm-https.tfvars
#   export STRESS_TOKEN=$TF_VAR_stress_token   # what the cpu_load entry of `terraform output commands` sends
# public_hostname is the name the certificate covers; point it (CNAME/alias) at the alb_dns_name output.
scaling_mode       = "alarm"
cpu_high_threshold = 70
cpu_low_threshold  = 30
certificate_arn    = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
public_hostname    = "scaleapp.example.com"
alb_ingress_cidrs  = ["203.0.113.0/24"]
# Who may start /cpu and /health/fail through the ALB (everyone else gets 403 there); the token still applies.
stress_allowed_cidrs = ["203.0.113.0/24"]
enable_warm_pool     = true
