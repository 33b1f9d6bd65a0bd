orders:
  environment: staging
  release: r42
  image_id: ami-0123456789abcdef0
  instance_type: t3.small
  min_size: 0
  max_size: 4
  https_from: [10.0.0.0/8, 172.16.0.0/12]
  ssh_from: 10.20.0.0/16
  alarms:
    cpu_percent: 80
    backlog_messages: 1000
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
