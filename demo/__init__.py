"""The demo and the test media: nothing in the service imports this package.

``media`` writes photo-like JPEG/HEIC/MP4 files with exact metadata (the tests and benches use it too),
``roll`` the demo camera roll, ``exports`` a Takeout export and scans, and ``faces`` fetches the
labelled face photos that ship in face_recognition's sdist from PyPI.
"""
