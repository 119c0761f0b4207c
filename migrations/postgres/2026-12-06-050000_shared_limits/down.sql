DROP TABLE login_failures;
DROP TABLE address_buckets;
