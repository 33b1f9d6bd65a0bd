base:
  '*':
    - orders
