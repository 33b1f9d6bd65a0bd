{#- The orders service's environment in one SLS: its queues (each with a dead-letter queue), the
    topic that fans events out to them, its table, its servers' security group and IAM role, its
    auto-scaling group with a launch hook, tags and notifications, and two alarms. Run it again to
    change what differs; test=True to see what would. -#}
{%- set env = pillar['orders']['environment'] %}
{%- set aws = pillar['orders']['aws'] %}
{%- set sqs_arn = 'arn:aws:sqs:' ~ aws['region'] ~ ':' ~ aws['account_id'] ~ ':' %}
{%- set sns_arn = 'arn:aws:sns:' ~ aws['region'] ~ ':' ~ aws['account_id'] ~ ':' %}

{%- for queue, settings in pillar['orders']['queues'].items() %}
orders-{{ env }}-{{ queue }}-dlq:
  boto_sqs.present:
    - profile: {{ aws['profile'] }}
    - attributes:
        MessageRetentionPeriod: 1209600
    - tags:
        service: orders
        environment: {{ env }}

orders-{{ env }}-{{ queue }}:
  boto_sqs.present:
    - profile: {{ aws['profile'] }}
    - attributes:
        VisibilityTimeout: {{ settings['visibility_timeout'] }}
        RedrivePolicy:
          deadLetterTargetArn: orders-{{ env }}-{{ queue }}-dlq
          maxReceiveCount: {{ settings.get('max_receive_count', 5) }}
    - tags:
        service: orders
        environment: {{ env }}
    - require:
      - boto_sqs: orders-{{ env }}-{{ queue }}-dlq
{%- endfor %}

orders-{{ env }}-events:
  boto_sns.present:
    - profile: {{ aws['profile'] }}
    - subscriptions:
{%- for queue in pillar['orders']['queues'] %}
      - protocol: sqs
        endpoint: {{ sqs_arn }}orders-{{ env }}-{{ queue }}
{%- endfor %}
    - require:
{%- for queue in pillar['orders']['queues'] %}
      - boto_sqs: orders-{{ env }}-{{ queue }}
{%- endfor %}

orders-{{ env }}-table:
  boto_dynamodb.present:
    - profile: {{ aws['profile'] }}
    - hash_key: order_id
    - range_key: created_at
    - range_key_data_type: N
    - global_indexes:
      - name: by-customer
        hash_key: customer_id
    - tags:
        service: orders
        environment: {{ env }}

orders-{{ env }}-security-group:
  boto_secgroup.present:
    - name: orders-api-{{ env }}
    - description: orders API servers ({{ env }})
    - profile: {{ aws['profile'] }}
    - rules:
      - ip_protocol: tcp
        from_port: 443
        to_port: 443
        cidr_ip:
{%- for cidr in pillar['orders']['https_from'] %}
          - {{ cidr }}
{%- endfor %}
      - ip_protocol: tcp
        from_port: 22
        to_port: 22
        cidr_ip: {{ pillar['orders']['ssh_from'] }}
    - rules_egress:
      - ip_protocol: all
        cidr_ip: 0.0.0.0/0

orders-{{ env }}-role:
  boto_iam_role.present:
    - name: orders-api-{{ env }}
    - profile: {{ aws['profile'] }}
    - policies:
        consume-queues:
          Version: '2012-10-17'
          Statement:
            - Effect: Allow
              Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility']
              Resource:
{%- for queue in pillar['orders']['queues'] %}
                - {{ sqs_arn }}orders-{{ env }}-{{ queue }}
{%- endfor %}
    - managed_policies:
      - arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy

orders-{{ env }}-group:
  boto_asg.present:
    - name: orders-api-{{ env }}
    - profile: {{ aws['profile'] }}
    - launch_config_name: orders-api-{{ env }}-{{ pillar['orders']['release'] }}
    - launch_config:
      - image_id: {{ pillar['orders']['image_id'] }}
      - instance_type: {{ pillar['orders']['instance_type'] }}
    - min_size: {{ pillar['orders']['min_size'] }}
    - max_size: {{ pillar['orders']['max_size'] }}
    - tags:
      - key: service
        value: orders
        propagate_at_launch: True
      - key: environment
        value: {{ env }}
        propagate_at_launch: True
    - lifecycle_hooks:
      - name: orders-api-{{ env }}-launching
        transition: launching
        heartbeat_timeout: 600
        default_result: ABANDON
    - notification_arn: {{ sns_arn }}orders-{{ env }}-events
    - require:
      - boto_sns: orders-{{ env }}-events

orders-{{ env }}-cpu-alarm:
  boto_cloudwatch_alarm.present:
    - name: orders-api-{{ env }}-cpu-high
    - profile: {{ aws['profile'] }}
    - attributes:
        metric: CPUUtilization
        namespace: AWS/EC2
        statistic: Average
        comparison: '>='
        threshold: {{ pillar['orders']['alarms']['cpu_percent'] }}
        period: 300
        evaluation_periods: 2
        dimensions:
          AutoScalingGroupName: orders-api-{{ env }}
        alarm_actions:
          - {{ sns_arn }}orders-{{ env }}-events
    - require:
      - boto_asg: orders-{{ env }}-group

orders-{{ env }}-backlog-alarm:
  boto_cloudwatch_alarm.present:
    - name: orders-{{ env }}-payments-backlog
    - profile: {{ aws['profile'] }}
    - attributes:
        metric: ApproximateNumberOfMessagesVisible
        namespace: AWS/SQS
        statistic: Maximum
        comparison: '>'
        threshold: {{ pillar['orders']['alarms']['backlog_messages'] }}
        period: 60
        evaluation_periods: 5
        dimensions:
          QueueName: orders-{{ env }}-payments
        alarm_actions:
          - {{ sns_arn }}orders-{{ env }}-events
    - require:
      - boto_sqs: orders-{{ env }}-payments
