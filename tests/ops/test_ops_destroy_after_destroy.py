"""destroy's rows after pulumi destroy, against moto: whether the cluster and the final DB snapshot are still
there."""

from moto_env import Account, account, db_instance, moto_account

from infra.ops.destroy import after_destroy

__all__ = ["account", "moto_account"]  # fixtures: pytest finds them here by name


def test_snapshot_status(account: Account) -> None:
    db, final = f"{account.prefix}-db", f"{account.prefix}-final"
    assert after_destroy.snapshot_status(account.rds, final) is None
    db_instance(account.rds, db)
    account.rds.create_db_snapshot(DBInstanceIdentifier=db, DBSnapshotIdentifier=final)
    assert after_destroy.snapshot_status(account.rds, final) == "available"


def test_cluster_status(account: Account) -> None:
    role, cluster = "arn:aws:iam::123456789012:role/eks", f"{account.prefix}-foo"
    account.eks.create_cluster(name=cluster, roleArn=role, resourcesVpcConfig={"subnetIds": [account.subnet]})
    assert after_destroy.cluster_status(account.eks, cluster) == "ACTIVE"
    assert after_destroy.cluster_status(account.eks, "gone") is None
