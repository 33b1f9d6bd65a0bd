orders:
  environment: staging
  release: r42
  image_id: ami-0123456789abcdef0
  instance_type: t3.small
  min_size: 0
  max_size: 4
  aws:
    profile: orders
    region: us-east-1
    account_id: '000000000000'
  queues:
    payments:
      visibility_timeout: 60
    shipping:
      visibility_timeout: 120
      max_receive_count: 3
