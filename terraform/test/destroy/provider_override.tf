# Merged over main.tf's provider by terraform-test.sh, in a copy of the stack: static fake keys, no
# credential or account lookup, and every endpoint the stack uses on a closed local port, so any AWS
# call (a data source read, a refresh) fails at once instead of reaching AWS.
provider "aws" {
  access_key                  = "offline-test"
  secret_key                  = "offline-test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  max_retries                 = 1

  endpoints {
    autoscaling = "http://127.0.0.1:9"
    cloudwatch  = "http://127.0.0.1:9"
    ec2         = "http://127.0.0.1:9"
    ecr         = "http://127.0.0.1:9"
    elbv2       = "http://127.0.0.1:9"
    iam         = "http://127.0.0.1:9"
    ssm         = "http://127.0.0.1:9"
    sts         = "http://127.0.0.1:9"
  }
}
