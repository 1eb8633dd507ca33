"""Seeds moto with the DESIGN.md §7 AWS estate, and the per-entity boto3 client Roster is
measured against. Usage:
  aws_estate.py seed ENDPOINT        1,000 users (300 with two keys: ~1,300 keys), 200 roles
  aws_estate.py per-entity ENDPOINT  list users, each user's keys, each key's last use, roles;
                                     prints "seconds requests"
"""
import json
import sys
import time

import boto3
from botocore.config import Config


def client(endpoint):
    return boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="bench-not-a-secret",
        config=Config(retries={"max_attempts": 3, "mode": "standard"}),
    )


def seed(endpoint):
    iam = client(endpoint)
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    ro = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    for i in range(1000):
        name = f"svc-bench-{i:04d}"
        iam.create_user(UserName=name, Path="/service/", Tags=[{"Key": "owner", "Value": f"team-{i % 40}"}])
        iam.attach_user_policy(UserName=name, PolicyArn=admin if i % 50 == 0 else ro)
        iam.create_access_key(UserName=name)
        if i % 10 < 3:
            iam.create_access_key(UserName=name)
    gh = "token.actions.githubusercontent.com"
    iam.create_open_id_connect_provider(Url=f"https://{gh}", ClientIDList=["sts.amazonaws.com"], ThumbprintList=["a" * 40])
    for i in range(200):
        sub = "repo:acme/*" if i % 4 == 0 else f"repo:acme/app-{i}:ref:refs/heads/main"
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                 "Principal": {"Federated": f"arn:aws:iam::123456789012:oidc-provider/{gh}"},
                 "Action": "sts:AssumeRoleWithWebIdentity",
                 "Condition": {"StringLike": {f"{gh}:sub": sub}, "StringEquals": {f"{gh}:aud": "sts.amazonaws.com"}}}]}
        iam.create_role(RoleName=f"gha-bench-{i:03d}", AssumeRolePolicyDocument=json.dumps(trust))
        iam.attach_role_policy(RoleName=f"gha-bench-{i:03d}", PolicyArn=ro)


def per_entity(endpoint):
    iam = client(endpoint)
    requests = 0
    start = time.monotonic()
    users = []
    for page in iam.get_paginator("list_users").paginate():
        requests += 1
        users += page["Users"]
    keys = 0
    for u in users:
        for page in iam.get_paginator("list_access_keys").paginate(UserName=u["UserName"]):
            requests += 1
            for k in page["AccessKeyMetadata"]:
                iam.get_access_key_last_used(AccessKeyId=k["AccessKeyId"])
                requests += 1
                keys += 1
    roles = 0
    for page in iam.get_paginator("list_roles").paginate():
        requests += 1
        roles += len(page["Roles"])
    print(f"{time.monotonic() - start:.2f} {requests} {len(users)} {keys} {roles}")


if __name__ == "__main__":
    {"seed": seed, "per-entity": per_entity}[sys.argv[1]](sys.argv[2])
