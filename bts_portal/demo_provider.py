"""The demo's local OneRoster provider: the districts bin/run serves to the demo's API partners.

One place says what each demo API partner's SIS serves (``demo_districts``), so bin/run and the
tests that seed the demo pull the same data with the same faults (``bts_portal.demo``'s
``DEMO_CONNECTIONS`` say how each partner connects). No Django: bin/run starts it before the
database exists. Run: ``python -m bts_portal.demo_provider [--host H] [--port 8765]``.
"""

import argparse
import signal
import threading
from pathlib import Path

from lib.oneroster_rest.provider import (
    District,
    DistrictConfig,
    Faults,
    Provider,
    ProviderServer,
    default_clients,
    synthetic_district,
)

_ROOT = Path(__file__).resolve().parent.parent
_SHARED = _ROOT.parent / "shared" / "data" / "oneroster" / "grand-bend"
SAMPLE = _SHARED if _SHARED.is_dir() else _ROOT / "tests" / "fixtures" / "oneroster" / "grand-bend"


def demo_districts() -> dict[str, DistrictConfig]:
    """``{partner slug: what its SIS serves}``: Lakeview the Grand Bend sample; Harbor City 300
    students behind a silent page cap of 40 records (pulled completely all the same); Mesa Verde a
    server that fails on every enrollments page (rejected as incomplete, nothing deactivated); Kona
    Coast an empty users collection answered with 200 (held, with the API's probable cause);
    Prairie Creek the sample again (it waits for its Infinite Campus rollover, so it is not
    pulled). Clients: ``KEY-client``/``KEY-secret`` (OAuth 2), ``KEY-oauth1``/``KEY-oauth1-secret``."""
    sample = District.from_package(SAMPLE)
    return {
        "lakeview-unified": DistrictConfig(sample, default_clients("lakeview-unified")),
        "harbor-city": DistrictConfig(synthetic_district(300), default_clients("harbor-city"), Faults(page_cap=40)),
        "mesa-verde": DistrictConfig(
            synthetic_district(150),
            default_clients("mesa-verde"),
            Faults(error_500={"collection": "enrollments", "offset": None, "times": -1}),
        ),
        "kona-coast": DistrictConfig(
            synthetic_district(120), default_clients("kona-coast"), Faults(empty_collection="users")
        ),
        "prairie-creek": DistrictConfig(District.from_package(SAMPLE), default_clients("prairie-creek")),
    }


def demo_provider_server(host: str = "127.0.0.1", port: int = 0) -> ProviderServer:
    """A (not yet started) server of ``demo_districts`` on ``host``:``port`` (0: any free port)."""
    return ProviderServer(Provider(demo_districts()), host, port)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the demo's OneRoster districts until stopped.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with demo_provider_server(args.host, args.port) as server:
        print(f"OneRoster provider on {server.url} serving {', '.join(demo_districts())}", flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
