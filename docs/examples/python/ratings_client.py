#!/usr/bin/env python3
"""Read combined trust ratings from the combiner over gRPC, with no generated code.

The client asks the server itself what it serves (gRPC server reflection, the v1alpha protocol that
grpcio-reflection speaks), builds the message classes from the descriptors the server returns, and
calls TrustRatingsService with a bearer token:

    pip install -r docs/examples/python/requirements.txt
    OVERSIGHT_TOKEN=<token> python3 docs/examples/python/ratings_client.py --server 127.0.0.1:15054
    OVERSIGHT_TOKEN=<token> python3 docs/examples/python/ratings_client.py --trust RXX --json

It prints every trust's combined rating (all pages of ListTrustRatings), then one trust
(GetTrustRating: --trust, or the first listed) with its parts and flags. Exit status: 0 on success,
1 when a call fails (the gRPC status is printed), 2 for bad arguments.
"""

import argparse
import json
import os
import sys

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

SERVICE_SUFFIX = ".TrustRatingsService"


class RatingsClient:
    """TrustRatingsService, discovered through server reflection."""

    def __init__(self, channel: grpc.Channel, token: str):
        self._channel = channel
        self._metadata = (("authorization", f"Bearer {token}"),)
        database = ProtoReflectionDescriptorDatabase(channel)
        services = [s for s in database.get_services() if s.endswith(SERVICE_SUFFIX)]
        if len(services) != 1:
            raise LookupError(f"expected one *{SERVICE_SUFFIX} in {sorted(database.get_services())}")
        self.service_name = services[0]
        self._pool = descriptor_pool.DescriptorPool(database)
        self._service = self._pool.FindServiceByName(self.service_name)

    def _call(self, method_name: str, **fields):
        method = self._service.methods_by_name[method_name]
        request_class = message_factory.GetMessageClass(method.input_type)
        response_class = message_factory.GetMessageClass(method.output_type)
        stub = self._channel.unary_unary(
            f"/{self.service_name}/{method_name}",
            request_serializer=request_class.SerializeToString,
            response_deserializer=response_class.FromString,
        )
        return stub(request_class(**fields), metadata=self._metadata, timeout=10)

    def list_ratings(self, page_size: int = 100):
        """Every trust's current combined rating, following next_page_token to the end."""
        token = ""
        while True:
            page = self._call("ListTrustRatings", page_size=page_size, page_token=token)
            yield from page.ratings
            token = page.next_page_token
            if not token:
                return

    def get_rating(self, trust_code: str):
        return self._call("GetTrustRating", trust_code=trust_code).rating


def rating_name(dated) -> str:
    """RATING_REQUIRES_IMPROVEMENT -> "requires improvement"; "-" when the part is absent."""
    if not dated.rating:
        return "-"
    name = dated.DESCRIPTOR.fields_by_name["rating"].enum_type.values_by_number[dated.rating].name
    return name.removeprefix("RATING_").replace("_", " ").lower()


def as_dict(message) -> dict:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default="127.0.0.1:15054", help="combiner gRPC address host:port")
    parser.add_argument(
        "--token",
        default=os.environ.get("OVERSIGHT_TOKEN"),
        help="bearer token (default: $OVERSIGHT_TOKEN); any role may read ratings",
    )
    parser.add_argument("--trust", help="ODS code of the trust to get (default: the first listed)")
    parser.add_argument("--page-size", type=int, default=100, help="ListTrustRatings page size (1-500)")
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    parser.add_argument(
        "--tls-ca",
        metavar="PEM",
        help="connect over TLS, trusting this CA bundle (services started with GRPC_TLS_CERT)",
    )
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("no token: pass --token or set OVERSIGHT_TOKEN")

    if args.tls_ca:
        with open(args.tls_ca, "rb") as f:
            credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
        channel = grpc.secure_channel(args.server, credentials)
    else:
        channel = grpc.insecure_channel(args.server)
    with channel:
        try:
            client = RatingsClient(channel, args.token)
            ratings = list(client.list_ratings(args.page_size))
            trust = args.trust or (ratings[0].trust_code if ratings else None)
            one = client.get_rating(trust) if trust else None
        except grpc.RpcError as e:
            print(f"error: {e.code().name}: {e.details()}", file=sys.stderr)
            return 1
        except LookupError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1

    if args.json:
        for r in ratings:
            print(json.dumps({"list": as_dict(r)}))
        if one is not None:
            print(json.dumps({"get": as_dict(one)}))
        return 0

    print(f"{client.service_name}: {len(ratings)} trusts")
    print(f"{'trust':<6} {'combined':<22} {'quality':<22} {'use of resources':<22} name")
    for r in ratings:
        print(
            f"{r.trust_code:<6} {rating_name(r.combined):<22} {rating_name(r.overall_quality):<22} "
            f"{rating_name(r.use_of_resources):<22} {r.trust_name}"
        )
    if one is not None:
        print()
        print(f"{one.trust_code} {one.trust_name} (version {one.version}, {one.region or 'region unknown'})")
        print(f"  combined:         {rating_name(one.combined)} {one.no_combined_reason}".rstrip())
        print(f"  overall quality:  {rating_name(one.overall_quality)}")
        print(f"  use of resources: {rating_name(one.use_of_resources)}")
        for flag in one.flags:
            print(f"  flag {flag.code}: {flag.description}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
