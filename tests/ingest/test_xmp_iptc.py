"""XMP and IPTC capture time and position: packets built here, and each corpus file exiftool dates from them.

The corpus tests use exiftool as the oracle: for each file where it reads an XMP or IPTC date, our
module must agree to the second and on the offset, or the file is listed below with the reason we differ.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import struct
import subprocess
import warnings
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from homeroll.daemon.ingest import iptc, xmp
from homeroll.daemon.ingest.xmp import EmbeddedTime, MetadataError, XmpFacts

NOW = datetime(2026, 6, 1, 12, 0, 0)

RDF_OPEN = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
)
RDF_CLOSE = "</rdf:RDF></x:xmpmeta>"
NS = (
    'xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" '
    'xmlns:xmp="http://ns.adobe.com/xap/1.0/"'
)


def packet(*descriptions: str) -> str:
    return RDF_OPEN + "".join(descriptions) + RDF_CLOSE


def attrs(**props: str) -> str:
    """One rdf:Description in attribute form: exif_DateTimeOriginal=... -> exif:DateTimeOriginal="..."."""
    body = " ".join(f'{name.replace("_", ":", 1)}="{value}"' for name, value in props.items())
    return f'<rdf:Description rdf:about="" {NS} {body}/>'


def elements(**props: str) -> str:
    body = "".join(
        f"<{name.replace('_', ':', 1)}>{value}</{name.replace('_', ':', 1)}>" for name, value in props.items()
    )
    return f'<rdf:Description rdf:about="" {NS}>{body}</rdf:Description>'


def time_of(text: str | bytes) -> EmbeddedTime | None:
    return xmp.parse_xmp(text, now=NOW).time


# --- XMP time -------------------------------------------------------------------------------------------


def test_attribute_form():
    t = time_of(packet(attrs(exif_DateTimeOriginal="2021-06-05T14:03:22+02:00")))
    assert t == EmbeddedTime(datetime(2021, 6, 5, 14, 3, 22), 120, "exif:DateTimeOriginal", "time")


def test_element_form_in_xpacket_with_padding():
    body = packet(elements(photoshop_DateCreated="2019-12-31T23:59:59Z"))
    text = (
        f"<?xpacket begin='\ufeff' id='W5M0MpCehiHzreSzNTczkc9d'?>\n{body}\n{' ' * 2048}\n<?xpacket end='w'?>"
    )
    t = time_of(text.encode("utf-8") + b"\x00" * 100)
    assert t == EmbeddedTime(datetime(2019, 12, 31, 23, 59, 59), 0, "photoshop:DateCreated", "time")


def test_junk_after_the_packet_trailer_is_ignored():
    body = packet(attrs(xmp_CreateDate="2019-01-02T03:04:05Z"))
    raw = f"<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?>{body}<?xpacket end='r'?>".encode()
    assert time_of(raw + b"\xff\xd9<junk") == EmbeddedTime(datetime(2019, 1, 2, 3, 4, 5), 0, "xmp:CreateDate")


def test_packet_starting_at_rdf():
    text = (
        f'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f"{attrs(xmp_CreateDate='2011-02-03T04:05:06')}</rdf:RDF>"
    )
    assert time_of(text) == EmbeddedTime(datetime(2011, 2, 3, 4, 5, 6), None, "xmp:CreateDate")


def test_priority_and_fall_through():
    all_three = attrs(
        exif_DateTimeOriginal="2020-01-01T10:00:00",
        photoshop_DateCreated="2020-01-02",
        xmp_CreateDate="2020-01-03T10:00:00",
    )
    assert time_of(packet(all_three)).tag == "exif:DateTimeOriginal"
    # Invalid DateTimeOriginal -> photoshop:DateCreated; absurd photoshop:DateCreated -> xmp:CreateDate.
    t = time_of(
        packet(attrs(exif_DateTimeOriginal="0000-00-00T00:00:00", photoshop_DateCreated="2020-01-02"))
    )
    assert (t.tag, t.precision, t.local) == ("photoshop:DateCreated", "day", datetime(2020, 1, 2, 12))
    t = time_of(packet(attrs(photoshop_DateCreated="1850-05-05", xmp_CreateDate="2020-01-03T10:00:00-05:00")))
    assert (t.tag, t.offset_min) == ("xmp:CreateDate", -300)


@pytest.mark.parametrize(
    "value, local, offset, precision",
    [
        ("1998", datetime(1998, 1, 1, 12), None, "year"),
        ("1998-07", datetime(1998, 7, 1, 12), None, "month"),
        ("1998-07-14", datetime(1998, 7, 14, 12), None, "day"),
        ("1998-07-14T09:30", datetime(1998, 7, 14, 9, 30), None, "time"),
        ("1998-07-14T09:30Z", datetime(1998, 7, 14, 9, 30), 0, "time"),
        ("1998-07-14T09:30:15", datetime(1998, 7, 14, 9, 30, 15), None, "time"),
        ("1998-07-14T09:30:15.25", datetime(1998, 7, 14, 9, 30, 15, 250000), None, "time"),
        ("1998-07-14T09:30:15.1234567+05:30", datetime(1998, 7, 14, 9, 30, 15, 123456), 330, "time"),
        ("1998-07-14T09:30:15-03:00", datetime(1998, 7, 14, 9, 30, 15), -180, "time"),
        ("1998-07-14T09:30:15+00:00", datetime(1998, 7, 14, 9, 30, 15), 0, "time"),
        ("2024-04-22T14:38:09.526GMT+02:00", datetime(2024, 4, 22, 14, 38, 9, 526000), 120, "time"),  # Apple
        ("2008:05:25 19:31:26", datetime(2008, 5, 25, 19, 31, 26), None, "time"),  # EXIF copied into XMP
        (" 1900-01-01 ", datetime(1900, 1, 1, 12), None, "day"),  # scanned prints are legitimately old
        ("1970-01-01T00:00:00+05:00", datetime(1970, 1, 1), 300, "time"),  # not the epoch instant
    ],
)
def test_date_forms(value, local, offset, precision):
    for form in (attrs, elements):
        assert time_of(packet(form(xmp_CreateDate=value))) == EmbeddedTime(
            local, offset, "xmp:CreateDate", precision
        )


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        "0000-00-00",
        "0000-00-00T00:00:00",
        "2021-13-01",
        "2021-02-30",
        "1899-12-31",
        "1899",
        "1970-01-01T00:00:00Z",
        "1970-01-01T00:00:00",
        "1970-01-01T01:00:00+01:00",
        "2026-06-03T00:00:00",
        "2027",
        "2021-06-05T25:00",
        "2021-06-05T10:00+25:00",
        "2021-06-05T10:00+1:00",
        "2021-06-05+02:00",
        "2021-06-05T10",
        "21-06-05",
        "2021-06-05T10:00:00+02:00:00",
    ],
)
def test_invalid_or_absurd_dates_give_no_time(value):
    assert time_of(packet(attrs(xmp_CreateDate=value))) is None


def test_future_rule_uses_now():
    text = packet(attrs(xmp_CreateDate="2026-06-02T11:00:00"))
    assert time_of(text) is not None  # within a day of NOW
    assert xmp.parse_xmp(text, now=datetime(2026, 5, 1)).time is None
    assert xmp.plausible_human(datetime(2026, 6, 2, 11), now=NOW)
    assert not xmp.plausible_human(datetime(2026, 6, 2, 13), now=NOW)


def test_several_descriptions_and_nested_documents():
    text = packet(
        elements(exif_GPSLatitude="48,51.5N"),
        # xmpMM:Pantry describes another (placed) document; its dates are not this photo's.
        '<rdf:Description rdf:about="" xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"><xmpMM:Pantry><rdf:Bag>'
        f'<rdf:li><rdf:Description {NS} exif:DateTimeOriginal="2001-01-01T00:00:01"/></rdf:li>'
        "</rdf:Bag></xmpMM:Pantry></rdf:Description>",
        attrs(photoshop_DateCreated="2015-08-09T10:11:12"),
        elements(exif_GPSLongitude="2,17.5E"),
    )
    facts = xmp.parse_xmp(text, now=NOW)
    assert facts.time == EmbeddedTime(datetime(2015, 8, 9, 10, 11, 12), None, "photoshop:DateCreated")
    assert (facts.lat, facts.lon) == (pytest.approx(48.858333), pytest.approx(2.291667))


def test_namespaces_match_by_uri_not_prefix():
    renamed = (
        '<rdf:Description xmlns:e="http://ns.adobe.com/exif/1.0/" '
        'xmlns:p="http://ns.adobe.com/photoshop/1.0/">'
        "<e:DateTimeOriginal>2012-03-04T05:06:07+01:00</e:DateTimeOriginal></rdf:Description>"
    )
    assert time_of(packet(renamed)) == EmbeddedTime(
        datetime(2012, 3, 4, 5, 6, 7), 60, "exif:DateTimeOriginal"
    )
    impostor = (
        '<rdf:Description xmlns:exif="http://example.com/not-exif/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        'exif:DateTimeOriginal="2001-01-01T00:00:00" xmp:CreateDate="2013-01-01T08:00:00"/>'
    )
    assert time_of(packet(impostor)).tag == "xmp:CreateDate"
    rdf_renamed = (
        '<meta xmlns="adobe:ns:meta/"><r:RDF xmlns:r="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<r:Description xmlns:ps="http://ns.adobe.com/photoshop/1.0/" ps:DateCreated="2014-05"/>'
        "</r:RDF></meta>"
    )
    assert time_of(rdf_renamed) == EmbeddedTime(
        datetime(2014, 5, 1, 12), None, "photoshop:DateCreated", "month"
    )


def test_qualified_and_array_values():
    text = packet(
        '<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<xmp:CreateDate rdf:parseType="Resource"><rdf:value>2010-10-10T10:10:10</rdf:value></xmp:CreateDate>'
        "</rdf:Description>"
    )
    assert time_of(text).local == datetime(2010, 10, 10, 10, 10, 10)


@pytest.mark.parametrize(
    "codec", ["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "utf-16-le", "utf-32", "utf-32-be"]
)
def test_encodings(codec):
    text = (
        "<?xpacket begin='\ufeff' id='W5M0MpCehiHzreSzNTczkc9d'?>"
        + packet(elements(xmp_CreateDate="2005-05-05T05:05:05"))
        + "<?xpacket end='w'?>"
    )
    assert time_of(text.encode(codec)).local == datetime(2005, 5, 5, 5, 5, 5)


def test_no_tags_or_empty_packet_is_no_facts():
    assert xmp.parse_xmp(packet(elements(xmp_CreatorTool="GIMP"))) == XmpFacts(None, None, None)
    assert xmp.parse_xmp(b"") == XmpFacts(None, None, None)
    assert xmp.parse_xmp(b"\x00" * 64 + b"  \n") == XmpFacts(None, None, None)


# --- XMP GPS --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lat, lon, expected",
    [
        ("45,45.8082N", "9,7.8W", (45.76347, -9.13)),
        ("45,45,30N", "9,7,48E", (45.758333, 9.13)),
        ("33,51,54.5S", "151,12,36.2E", (-33.865139, 151.210056)),
        ("45.7634", "-9.13", (45.7634, -9.13)),
        ("-0.37", "36.06", (-0.37, 36.06)),
        ("45,45.8082n", "9,7.8w", (45.76347, -9.13)),
    ],
)
def test_gps_forms(lat, lon, expected):
    facts = xmp.parse_xmp(packet(elements(exif_GPSLatitude=lat, exif_GPSLongitude=lon)))
    assert (facts.lat, facts.lon) == (
        pytest.approx(expected[0], abs=1e-5),
        pytest.approx(expected[1], abs=1e-5),
    )


@pytest.mark.parametrize(
    "lat, lon",
    [
        ("0,0.0N", "0,0.0E"),  # null island: a missing fix
        ("0", "0"),
        ("95,0N", "10,0E"),  # out of range
        ("45,0N", "190.5"),
        ("45,61N", "10,0E"),  # 61 minutes
        ("45,10,75N", "10,0E"),  # 75 seconds
        ("45,10N", "10,0N"),  # N on a longitude
        ("10,0E", "45,10E"),  # E on a latitude
        ("NaN", "10.0"),
        ("abc", "10.0"),
        ("45,10", "10,0E"),  # no reference letter
        ("45,10N", ""),  # both are needed
    ],
)
def test_malformed_gps_is_no_position_not_an_error(lat, lon):
    props = {"exif_GPSLatitude": lat, **({"exif_GPSLongitude": lon} if lon else {})}
    facts = xmp.parse_xmp(packet(elements(**props), attrs(xmp_CreateDate="2020-02-02")), now=NOW)
    assert (facts.lat, facts.lon) == (None, None)
    assert facts.time is not None


# --- hostile and broken XMP -----------------------------------------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>&lol9;</dc:title></rdf:Description>
</rdf:RDF></x:xmpmeta>"""


def test_billion_laughs_is_refused():
    with pytest.raises(MetadataError, match=r"^XMP refused \(entity declarations\)$"):
        xmp.parse_xmp(BILLION_LAUGHS.encode())


def test_external_entity_is_refused():
    text = '<!DOCTYPE x [<!ENTITY ext SYSTEM "file:///etc/passwd">]>' + packet(
        elements(xmp_CreateDate="&ext;")
    )
    with pytest.raises(MetadataError, match=r"^XMP refused"):
        xmp.parse_xmp(text)


def test_not_well_formed_reports_the_line():
    with pytest.raises(MetadataError, match=r"^malformed XMP \(not well-formed XML at line 3\)$"):
        xmp.parse_xmp(b'\n\n<x:xmpmeta xmlns:x="adobe:ns:meta/"><a></b></x:xmpmeta>')
    with pytest.raises(MetadataError, match=r"^malformed XMP \(not well-formed XML at line 3\)$"):
        xmp.parse_xmp('<x:xmpmeta xmlns:x="adobe:ns:meta/">\n<a>\n</b></x:xmpmeta>')


@pytest.mark.parametrize(
    "garbage",
    [
        bytes(range(256)) * 8,
        b"\xff\xd8\xff\xe1garbage",
        b"<<<>>>",
        b"\x00\x01\x02",
        b"<x:a>unbound prefix</x:a>",
        "\ud800".encode("utf-8", "surrogatepass"),
    ],
)
def test_garbage_is_a_metadata_error(garbage):
    with pytest.raises(MetadataError, match=r"^malformed XMP"):
        xmp.parse_xmp(garbage)


def test_oversize_packet_is_refused():
    big = packet(elements(xmp_CreateDate="2020-01-01")).encode() + b" " * xmp.MAX_XMP_BYTES
    with pytest.raises(MetadataError, match=rf"^XMP too large \({len(big)} bytes\)$"):
        xmp.parse_xmp(big)
    with pytest.raises(MetadataError, match=r"^XMP too large"):
        xmp.parse_xmp(big.decode())
    at_limit = packet(elements(xmp_CreateDate="2020-01-01")).encode()
    at_limit += b" " * (xmp.MAX_XMP_BYTES - len(at_limit))
    assert xmp.parse_xmp(at_limit, now=NOW).time is not None


def test_truncated_packets_never_raise_anything_else():
    whole = (
        "<?xpacket begin='\ufeff' id='W5M0MpCehiHzreSzNTczkc9d'?>"
        + packet(
            attrs(
                exif_DateTimeOriginal="2021-06-05T14:03:22+02:00",
                exif_GPSLatitude="45,45.8N",
                exif_GPSLongitude="9,7.8W",
            )
        )
        + "<?xpacket end='w'?>"
    ).encode("utf-16")
    for cut in range(len(whole)):
        try:
            xmp.parse_xmp(whole[:cut], now=NOW)
        except MetadataError:
            pass


def test_read_sidecar(tmp_path):
    side = tmp_path / "IMG_0001.jpg.xmp"
    side.write_text(packet(attrs(photoshop_DateCreated="2003-08-31")), encoding="utf-8")
    assert xmp.read_sidecar(side, now=NOW).time == EmbeddedTime(
        datetime(2003, 8, 31, 12), None, "photoshop:DateCreated", "day"
    )
    huge = tmp_path / "huge.xmp"
    with huge.open("wb") as handle:
        handle.truncate(10 * 1024 * 1024)  # sparse: costs no disk
    with pytest.raises(MetadataError, match=r"^XMP too large \(10485760 bytes\)$"):
        xmp.read_sidecar(huge)
    with pytest.raises(MetadataError, match=r"^unreadable XMP sidecar"):
        xmp.read_sidecar(tmp_path / "missing.xmp")


# --- embedded packets in each format --------------------------------------------------------------------

SAMPLE = packet(
    attrs(
        exif_DateTimeOriginal="2022-02-22T22:22:22-08:00",
        exif_GPSLatitude="37,46.5N",
        exif_GPSLongitude="122,25.1W",
    )
).encode()


def _saved(fmt: str, **params) -> Image.Image:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), "teal").save(buf, fmt, **params)
    return Image.open(io.BytesIO(buf.getvalue()))


def _png_info() -> PngInfo:
    info = PngInfo()
    info.add_itxt("XML:com.adobe.xmp", SAMPLE.decode())
    return info


@pytest.mark.parametrize(
    "fmt, params",
    [
        ("JPEG", lambda: {"xmp": SAMPLE}),
        ("PNG", lambda: {"pnginfo": _png_info()}),
        ("WEBP", lambda: {"xmp": SAMPLE}),
        ("TIFF", lambda: {"tiffinfo": {700: SAMPLE}}),
        ("HEIF", lambda: {"xmp": SAMPLE}),
    ],
)
def test_embedded_packet_round_trip(fmt, params):
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    image = _saved(fmt, **params())
    raw = xmp.embedded_packet(image)
    assert raw is not None and raw.strip(b"\x00 ").startswith(b"<x:xmpmeta")
    facts = xmp.parse_xmp(raw, now=NOW)
    assert facts.time == EmbeddedTime(datetime(2022, 2, 22, 22, 22, 22), -480, "exif:DateTimeOriginal")
    assert (facts.lat, facts.lon) == (pytest.approx(37.775), pytest.approx(-122.418333))
    assert xmp.embedded_packet(_saved(fmt)) is None


# --- IPTC -----------------------------------------------------------------------------------------------


def _record(dataset: int, data: bytes) -> bytes:
    return b"\x1c\x02" + bytes([dataset]) + struct.pack(">H", len(data)) + data


def _iptc_tiff(block: bytes) -> Image.Image:
    """A TIFF whose IPTC-NAA tag (33723) holds ``block``: Pillow writes the container, we pick the records."""
    return _saved("TIFF", tiffinfo={33723: block})


def _iptc(date: bytes | None, time: bytes | None = None) -> Image.Image:
    block = (_record(55, date) if date is not None else b"") + (
        _record(60, time) if time is not None else b""
    )
    return _iptc_tiff(block)


def test_iptc_jpeg_written_by_exiftool(tmp_path):
    if shutil.which("exiftool") is None:
        pytest.fail("exiftool is not installed (make test installs it as root; else: sudo apt-get install libimage-exiftool-perl)")
    path = tmp_path / "iptc.jpg"
    Image.new("RGB", (16, 16)).save(path)
    subprocess.run(
        [
            "exiftool",
            "-q",
            "-overwrite_original",
            "-IPTC:DateCreated=2019:03:04",
            "-IPTC:TimeCreated=10:11:12+01:00",
            str(path),
        ],
        check=True,
        timeout=60,
    )
    with Image.open(path) as image:
        assert iptc.read_iptc(image, now=NOW) == EmbeddedTime(
            datetime(2019, 3, 4, 10, 11, 12), 60, "IPTC:DateCreated", "time"
        )
    subprocess.run(
        ["exiftool", "-q", "-overwrite_original", "-IPTC:TimeCreated=", str(path)], check=True, timeout=60
    )
    with Image.open(path) as image:
        assert iptc.read_iptc(image, now=NOW) == EmbeddedTime(
            datetime(2019, 3, 4, 12), None, "IPTC:DateCreated", "day"
        )


@pytest.mark.parametrize(
    "date, time, expected",
    [
        (b"20190304", b"101112+0100", (datetime(2019, 3, 4, 10, 11, 12), 60, "time")),
        (b"20190304", b"101112-0000", (datetime(2019, 3, 4, 10, 11, 12), 0, "time")),
        (b"20190304", b"101112+0530", (datetime(2019, 3, 4, 10, 11, 12), 330, "time")),
        (b"20190304", b"101112", (datetime(2019, 3, 4, 10, 11, 12), None, "time")),
        (b"20190304", b"10:11:12+01:00", (datetime(2019, 3, 4, 10, 11, 12), 60, "time")),
        (b"20190304", None, (datetime(2019, 3, 4, 12), None, "day")),
        (b"20190300", None, (datetime(2019, 3, 1, 12), None, "month")),
        (b"20190000", None, (datetime(2019, 1, 1, 12), None, "year")),
        (b"20190300", b"101112+0100", (datetime(2019, 3, 1, 12), None, "month")),  # a time without its day
        (b"19000101", None, (datetime(1900, 1, 1, 12), None, "day")),
        (b"20190304\x00", b"101112\x00", (datetime(2019, 3, 4, 10, 11, 12), None, "time")),
    ],
)
def test_iptc_values(date, time, expected):
    local, offset, precision = expected
    assert iptc.read_iptc(_iptc(date, time), now=NOW) == EmbeddedTime(
        local, offset, "IPTC:DateCreated", precision
    )


@pytest.mark.parametrize(
    "date, time",
    [
        (b"00000000", None),
        (b"00000000", b"000000+0000"),
        (b"18991231", None),
        (b"20270101", None),
        (b"19700101", b"000000+0000"),
        (b"19700101", b"000000"),
        (b"19700101", b"010000+0100"),
        (None, b"101112+0100"),
        (None, None),
    ],
)
def test_iptc_absent_or_absurd_is_none(date, time):
    assert iptc.read_iptc(_iptc(date, time), now=NOW) is None


@pytest.mark.parametrize(
    "date, time",
    [
        (b"2019-03-04", None),
        (b"2019034", None),
        (b"20191304", None),
        (b"20190230", None),
        (b"\xff\xfe\xfd\xfc", None),
        (b"20190304", b"251112"),
        (b"20190304", b"10h11"),
        (b"20190304", b"101112+2500"),
        (b"20190304", b"106112"),
    ],
)
def test_iptc_malformed_is_a_metadata_error(date, time):
    with pytest.raises(MetadataError, match=r"^malformed IPTC"):
        iptc.read_iptc(_iptc(date, time), now=NOW)


def test_iptc_broken_block_is_a_metadata_error():
    with pytest.raises(MetadataError, match=r"^malformed IPTC"):
        iptc.read_iptc(_iptc_tiff(_record(55, b"20190304") + b"\x1d\x02\x3c\x00\x04abcd"))


def test_iptc_repeated_dataset_uses_the_first():
    image = _iptc_tiff(_record(55, b"20180102") + _record(55, b"20190304"))
    assert iptc.read_iptc(image, now=NOW).local == datetime(2018, 1, 2, 12)


def test_no_iptc():
    assert iptc.read_iptc(_saved("PNG")) is None
    assert iptc.read_iptc(_saved("JPEG")) is None
    assert iptc.read_iptc(Image.new("RGB", (2, 2))) is None


# --- the corpus against exiftool ------------------------------------------------------------------------

XMP_TAGS = ["XMP-exif:DateTimeOriginal", "XMP-photoshop:DateCreated", "XMP-xmp:CreateDate"]
OUR_NAME = {
    "XMP-exif:DateTimeOriginal": "exif:DateTimeOriginal",
    "XMP-photoshop:DateCreated": "photoshop:DateCreated",
    "XMP-xmp:CreateDate": "xmp:CreateDate",
}
EXIFTOOL_ARGS = [
    "-json",
    "-n",
    "-G1",
    "-r",
    "-q",
    "-q",
    *(f"-{t}" for t in XMP_TAGS),
    "-XMP-exif:GPSLatitude",
    "-XMP-exif:GPSLongitude",
    "-IPTC:DateCreated",
    "-IPTC:TimeCreated",
]

# Where we differ from exiftool on purpose: relative path -> (why, what we return instead).
XMP_DIFFERS = {
    "exif-samples/jpg/tests/33-type_error.jpg": (
        "exif:DateTimeOriginal is '2008-05-25T19:31:26.0+1:00': a one-digit zone hour is not an XMP date "
        "(and Photoshop CS4 wrote +1:00 in summer), so we fall through to xmp:CreateDate, the same instant "
        "in CEST",
        EmbeddedTime(datetime(2008, 5, 25, 20, 31, 26), 120, "xmp:CreateDate"),
    ),
    "pillow_heif/heif_other/spatial_photo.heic": (
        "Apple SpatialCapture writes '2024-04-22T14:38:09.526GMT+02:00'; exiftool passes it through "
        "unparsed, we read the +02:00 after the GMT prefix",
        EmbeddedTime(datetime(2024, 4, 22, 14, 38, 9, 526000), 120, "xmp:CreateDate"),
    ),
}
IPTC_DIFFERS = {
    "exiftool/images/AFCP.jpg": (
        "its IPTC block is in an AFCP trailer after the JPEG data (exiftool group IPTC2), not in APP13, "
        "where Pillow's getiptcinfo looks",
        None,
    ),
}

_EXIFTOOL_TIME_RE = re.compile(
    r"(\d{4})(?::(\d{2}))?(?::(\d{2}))?(?: (\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?)?"
    r"(Z|[+-]\d{2}:\d{2})?"
)


def _offset(zone: str | None) -> int | None:
    if not zone:
        return None
    if zone == "Z":
        return 0
    minutes = int(zone[1:3]) * 60 + int(zone[4:6])
    return -minutes if zone[0] == "-" else minutes


def _oracle(value: str) -> tuple[datetime, int | None, str]:
    """exiftool's rendering of a date -> (local to the second, offset, precision), with our midday rule."""
    match = _EXIFTOOL_TIME_RE.fullmatch(str(value))
    assert match, f"exiftool value {value!r} not understood by the test"
    y, mo, d, h, mi, s, zone = match.groups()
    precision = "time" if h else "day" if d else "month" if mo else "year"
    if h:
        local = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0))
    else:
        local = datetime(int(y), int(mo or 1), int(d or 1), 12)
    return local, _offset(zone), precision


def _summary(t: EmbeddedTime | None):
    return None if t is None else (t.local.replace(microsecond=0), t.offset_min, t.precision, t.tag)


@pytest.fixture(scope="module")
def exiftool_dates(corpus) -> dict[str, dict]:
    """exiftool's XMP/IPTC dates for every corpus file that has one, by path relative to the corpus."""
    if shutil.which("exiftool") is None:
        pytest.fail("exiftool is not installed (make test installs it as root; else: sudo apt-get install libimage-exiftool-perl)")
    out = subprocess.run(
        ["exiftool", *EXIFTOOL_ARGS, str(corpus)], capture_output=True, text=True, timeout=600
    )
    rows = {}
    for row in json.loads(out.stdout or "[]"):
        if any(k in row for k in XMP_TAGS) or any(
            k.endswith(":DateCreated") and k.startswith("IPTC") for k in row
        ):
            rows[str(Path(row["SourceFile"]).resolve().relative_to(corpus.resolve()))] = row
    return rows


def _open(path: Path) -> Image.Image:
    import pillow_heif

    pillow_heif.register_heif_opener()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Image.open(path)


@pytest.mark.corpus
def test_corpus_xmp_agrees_with_exiftool(corpus, exiftool_dates):
    compared = 0
    for rel, row in sorted(exiftool_dates.items()):
        present = [t for t in XMP_TAGS if t in row]
        if not present:
            continue
        with _open(corpus / rel) as image:
            raw = xmp.embedded_packet(image)
        assert raw is not None, f"{rel}: exiftool reads XMP {present}, embedded_packet found none"
        ours = xmp.parse_xmp(raw).time
        if rel in XMP_DIFFERS:
            assert ours == XMP_DIFFERS[rel][1], rel
            continue
        local, offset, precision = _oracle(row[present[0]])
        assert _summary(ours) == (local, offset, precision, OUR_NAME[present[0]]), (rel, row)
        if "XMP-exif:GPSLatitude" in row and "XMP-exif:GPSLongitude" in row:
            facts = xmp.parse_xmp(raw)
            assert (facts.lat, facts.lon) == (
                pytest.approx(row["XMP-exif:GPSLatitude"], abs=1e-6),
                pytest.approx(row["XMP-exif:GPSLongitude"], abs=1e-6),
            ), rel
        compared += 1
    assert compared >= 50, f"only {compared} corpus files with an XMP date: is the corpus complete?"


@pytest.mark.corpus
def test_corpus_iptc_agrees_with_exiftool(corpus, exiftool_dates):
    compared = 0
    for rel, row in sorted(exiftool_dates.items()):
        date_key = next((k for k in row if k.startswith("IPTC") and k.endswith(":DateCreated")), None)
        if date_key is None:
            continue
        with _open(corpus / rel) as image:
            ours = iptc.read_iptc(image)
        if rel in IPTC_DIFFERS:
            assert ours == IPTC_DIFFERS[rel][1], rel
            continue
        time_key = date_key.replace("DateCreated", "TimeCreated")
        value = row[date_key] + (f" {row[time_key]}" if time_key in row else "")
        local, offset, precision = _oracle(value)
        assert _summary(ours) == (local, offset, precision, "IPTC:DateCreated"), (rel, row)
        compared += 1
    assert compared >= 20, f"only {compared} corpus files with an IPTC date: is the corpus complete?"


@pytest.mark.corpus
def test_corpus_named_examples(corpus):
    """A few files worth naming: the partial, the zoned, the UTF-16 and the TIFF cases."""
    cases = {
        "Pillow/xmp_test.jpg": EmbeddedTime(
            datetime(2018, 10, 27, 13, 27, 23, 530000), None, "photoshop:DateCreated"
        ),
        "exiftool/images/XMP.jpg": EmbeddedTime(
            datetime(2004, 2, 26, 12), None, "photoshop:DateCreated", "day"
        ),
        "exiftool/images/DNG.dng": EmbeddedTime(
            datetime(2005, 8, 3, 18, 59, 18), -240, "exif:DateTimeOriginal"
        ),
        "exiftool/images/MWG.jpg": EmbeddedTime(
            datetime(1993, 1, 1, 3, 11, 11, 311000), 60, "photoshop:DateCreated"
        ),
    }
    for rel, expected in cases.items():
        with _open(corpus / rel) as image:
            assert xmp.parse_xmp(xmp.embedded_packet(image)).time == expected, rel
    with _open(corpus / "exiftool/images/PhotoMechanic.jpg") as image:
        assert iptc.read_iptc(image) == EmbeddedTime(
            datetime(2006, 10, 29, 6, 27, 51), -300, "IPTC:DateCreated"
        )
    with _open(corpus / "exiftool/images/ExifTool.tif") as image:
        assert iptc.read_iptc(image) == EmbeddedTime(
            datetime(2004, 2, 20, 12), None, "IPTC:DateCreated", "day"
        )


@pytest.mark.corpus
def test_corpus_never_raises_anything_but_metadata_error(corpus):
    """Every corpus file Pillow opens, hostile ones included: the readers give facts or a MetadataError."""
    opened = 0
    for path in sorted(
        p
        for p in corpus.rglob("*")
        if p.is_file() and p.suffix.lower() not in (".md", ".tsv", ".json", ".txt")
    ):
        try:
            image = _open(path)
        except Exception:  # noqa: BLE001 - not our module's business
            continue
        opened += 1
        with image:
            try:
                raw = xmp.embedded_packet(image)
                if raw is not None:
                    xmp.parse_xmp(raw)
            except MetadataError:
                pass
            try:
                iptc.read_iptc(image)
            except MetadataError:
                pass
    assert opened > 300
