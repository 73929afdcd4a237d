# The warm pool (delivery = "ami" only), against the mocked AWS provider (tests/aws).

mock_provider "aws" {
  source = "./tests/aws"
}

variables {
  ami_id           = ""
  ami_ids          = {}
  ami_architecture = ""
  enable_warm_pool = true
}

run "warm_pool_sized_explicitly" {
  variables {
    warm_pool_min_size              = 1
    warm_pool_max_prepared_capacity = 3
  }

  # desired 2, max prepared 3: one stopped instance, not max_size - desired = 2.
  assert {
    condition = (
      aws_autoscaling_group.app.warm_pool[0].pool_state == "Stopped" &&
      aws_autoscaling_group.app.warm_pool[0].min_size == 1 &&
      aws_autoscaling_group.app.warm_pool[0].max_group_prepared_capacity == 3 &&
      aws_autoscaling_group.app.warm_pool[0].instance_reuse_policy[0].reuse_on_scale_in == true
    )
    error_message = "The warm pool must keep stopped instances up to warm_pool_max_prepared_capacity (3) and reuse them on scale-in."
  }
}

run "warm_pool_off_by_default" {
  variables {
    enable_warm_pool = false
  }

  assert {
    condition     = length(aws_autoscaling_group.app.warm_pool) == 0
    error_message = "No warm pool unless enable_warm_pool."
  }
}
