"""tools/refresh_prices.py against botocore's Stubber: GetProducts requests as the Price List API model defines
them, answers shaped like real ones (PriceList items are JSON strings: product + terms.OnDemand.*.priceDimensions)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tools.refresh_prices import refresh

TODAY = dt.date(2026, 12, 6)

# A real GetProducts PriceList item (AmazonEC2, c5.xlarge, US East (N. Virginia), publication 2020-06-18), with its
# Reserved terms left out: those are not read.
EC2_C5_XLARGE: dict[str, Any] = {
    "product": {
        "attributes": {
            "capacitystatus": "Used",
            "clockSpeed": "3 GHz",
            "currentGeneration": "Yes",
            "instanceFamily": "Compute optimized",
            "instanceType": "c5.xlarge",
            "licenseModel": "No License required",
            "location": "US East (N. Virginia)",
            "locationType": "AWS Region",
            "memory": "8 GiB",
            "operatingSystem": "Linux",
            "operation": "RunInstances",
            "preInstalledSw": "NA",
            "servicecode": "AmazonEC2",
            "tenancy": "Shared",
            "usagetype": "BoxUsage:c5.xlarge",
            "vcpu": "4",
        },
        "productFamily": "Compute Instance",
        "sku": "35AEEWH98DECPC35",
    },
    "publicationDate": "2020-06-18T22:18:09Z",
    "serviceCode": "AmazonEC2",
    "terms": {
        "OnDemand": {
            "35AEEWH98DECPC35.JRTCKXETXF": {
                "effectiveDate": "2020-06-01T00:00:00Z",
                "offerTermCode": "JRTCKXETXF",
                "priceDimensions": {
                    "35AEEWH98DECPC35.JRTCKXETXF.6YS6EN2CT7": {
                        "appliesTo": [],
                        "beginRange": "0",
                        "description": "$0.17 per On Demand Linux c5.xlarge Instance Hour",
                        "endRange": "Inf",
                        "pricePerUnit": {"USD": "0.1700000000"},
                        "rateCode": "35AEEWH98DECPC35.JRTCKXETXF.6YS6EN2CT7",
                        "unit": "Hrs",
                    }
                },
                "sku": "35AEEWH98DECPC35",
                "termAttributes": {},
            }
        }
    },
    "version": "20200618221809",
}

# The same structure for RDS: a PostgreSQL db.t4g.micro Single-AZ product ($0.016 an hour in us-west-2).
RDS_T4G_MICRO: dict[str, Any] = {
    "product": {
        "attributes": {
            "databaseEngine": "PostgreSQL",
            "deploymentOption": "Single-AZ",
            "instanceType": "db.t4g.micro",
            "licenseModel": "No license required",
            "location": "US West (Oregon)",
            "locationType": "AWS Region",
            "memory": "1 GiB",
            "regionCode": "us-west-2",
            "servicecode": "AmazonRDS",
            "usagetype": "USW2-InstanceUsage:db.t4g.micro",
            "vcpu": "2",
        },
        "productFamily": "Database Instance",
        "sku": "RDSPGT4GMICROUSW2",
    },
    "publicationDate": "2026-11-27T00:00:00Z",
    "serviceCode": "AmazonRDS",
    "terms": {
        "OnDemand": {
            "RDSPGT4GMICROUSW2.JRTCKXETXF": {
                "effectiveDate": "2026-11-01T00:00:00Z",
                "offerTermCode": "JRTCKXETXF",
                "priceDimensions": {
                    "RDSPGT4GMICROUSW2.JRTCKXETXF.6YS6EN2CT7": {
                        "appliesTo": [],
                        "beginRange": "0",
                        "description": "$0.016 per RDS db.t4g.micro Single-AZ instance hour running PostgreSQL",
                        "endRange": "Inf",
                        "pricePerUnit": {"USD": "0.0160000000"},
                        "rateCode": "RDSPGT4GMICROUSW2.JRTCKXETXF.6YS6EN2CT7",
                        "unit": "Hrs",
                    }
                },
                "sku": "RDSPGT4GMICROUSW2",
                "termAttributes": {},
            }
        }
    },
    "version": "20261127000000",
}

EC2_FILTERS = [
    {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"},
    {"Type": "TERM_MATCH", "Field": "instanceType", "Value": "c5.xlarge"},
    {"Type": "TERM_MATCH", "Field": "operatingSystem", "Value": "Linux"},
    {"Type": "TERM_MATCH", "Field": "tenancy", "Value": "Shared"},
    {"Type": "TERM_MATCH", "Field": "preInstalledSw", "Value": "NA"},
    {"Type": "TERM_MATCH", "Field": "capacitystatus", "Value": "Used"},
    {"Type": "TERM_MATCH", "Field": "licenseModel", "Value": "No License required"},
]
RDS_FILTERS = [
    {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-west-2"},
    {"Type": "TERM_MATCH", "Field": "productFamily", "Value": "Database Instance"},
    {"Type": "TERM_MATCH", "Field": "instanceType", "Value": "db.t4g.micro"},
    {"Type": "TERM_MATCH", "Field": "databaseEngine", "Value": "PostgreSQL"},
    {"Type": "TERM_MATCH", "Field": "deploymentOption", "Value": "Single-AZ"},
]


@pytest.fixture
def pricing() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "pricing", region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def request(service: str, filters: list[dict[str, str]], token: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"ServiceCode": service, "Filters": filters, "FormatVersion": "aws_v1"}
    if token:
        params["NextToken"] = token
    return params


def table(region: str, prices: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"region": region, "hoursPerMonth": 730, "note": "", "prices": prices or {}}


def test_an_ec2_price_is_read_from_the_on_demand_term(pricing: tuple[Any, Stubber]) -> None:
    client, stubber = pricing
    stubber.add_response(
        "get_products",
        {"FormatVersion": "aws_v1", "PriceList": [json.dumps(EC2_C5_XLARGE)]},
        request("AmazonEC2", EC2_FILTERS),
    )
    doc = table("us-east-1")
    assert refresh(doc, client, ["ec2.c5.xlarge"], TODAY) == ["ec2.c5.xlarge: added 0.17 per hour"]
    entry = doc["prices"]["ec2.c5.xlarge"]
    assert (entry["usd"], entry["per"], entry["date"], entry["vcpu"]) == ("0.17", "hour", "2026-12-06", 4)
    assert entry["source"].startswith("AWS Price List API GetProducts AmazonEC2 [regionCode=us-east-1")


def test_pages_are_followed_and_an_rds_class_keeps_its_vcpus(pricing: tuple[Any, Stubber]) -> None:
    client, stubber = pricing
    page = {"FormatVersion": "aws_v1", "PriceList": [json.dumps(RDS_T4G_MICRO)], "NextToken": "page-2"}
    stubber.add_response("get_products", page, request("AmazonRDS", RDS_FILTERS))
    last = {"FormatVersion": "aws_v1", "PriceList": [json.dumps(RDS_T4G_MICRO)]}
    stubber.add_response("get_products", last, request("AmazonRDS", RDS_FILTERS, "page-2"))
    old = {"usd": "0.015", "per": "hour", "date": "2026-01-01", "source": "hand"}
    doc = table("us-west-2", {"rds.postgres.db.t4g.micro": old})
    assert refresh(doc, client, ["rds.postgres.db.t4g.micro"], TODAY) == [
        "rds.postgres.db.t4g.micro: 0.015 → 0.016 per hour"
    ]
    assert doc["prices"]["rds.postgres.db.t4g.micro"]["vcpu"] == 2


def test_products_that_disagree_or_none_leave_the_table_as_it_was(pricing: tuple[Any, Stubber]) -> None:
    client, stubber = pricing
    dearer = copy.deepcopy(EC2_C5_XLARGE)
    [term] = dearer["terms"]["OnDemand"].values()
    [dimension] = term["priceDimensions"].values()
    dimension["pricePerUnit"]["USD"] = "0.2000000000"
    both = {"FormatVersion": "aws_v1", "PriceList": [json.dumps(EC2_C5_XLARGE), json.dumps(dearer)]}
    stubber.add_response("get_products", both, request("AmazonEC2", EC2_FILTERS))
    old = {"usd": "0.17", "per": "hour", "date": "2026-01-01", "source": "hand"}
    doc = table("us-east-1", {"ec2.c5.xlarge": dict(old)})
    [line] = refresh(doc, client, ["ec2.c5.xlarge"], TODAY)
    assert "2 products disagree ($0.17, $0.2)" in line and line.endswith("kept 0.17")
    assert doc["prices"]["ec2.c5.xlarge"] == old
    stubber.add_response(
        "get_products", {"FormatVersion": "aws_v1", "PriceList": []}, request("AmazonEC2", EC2_FILTERS)
    )
    assert refresh(table("us-east-1"), client, ["ec2.c5.xlarge"], TODAY) == [
        "ec2.c5.xlarge: no product matched (0 items without an OnDemand USD price): not added"
    ]


def test_a_key_without_a_known_query_is_refused(pricing: tuple[Any, Stubber]) -> None:
    client, _ = pricing
    doc = table("us-east-1")
    assert refresh(doc, client, ["lambda.requests"], TODAY) == [
        "lambda.requests: no Price List query known for this key (infra/cost/queries.py): kept"
    ]
    assert doc["prices"] == {}
