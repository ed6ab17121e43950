"""Run checkov and record EVERY check result, UNKNOWN included (test tool; runs in checkov's venv).

checkov drops UNKNOWN results: ``Report.add_record`` (checkov/common/output/report.py, 3.3.30)
keeps only PASSED, FAILED and SKIPPED records, so no report format shows them. This wraps that
method to append one JSON line per record ({check_id, resource, result, check_type, file}) to
OUT before checkov files it, then runs checkov's own entry point with the remaining arguments:

    <checkov venv>/bin/python checkov_results.py OUT.jsonl -- <checkov arguments>

Lines are appended (O_APPEND), so records from any worker process checkov forks are kept.
Nothing in spotkit imports this file.
"""

import json
import os
import sys


def main() -> int:
    out, sep, *args = sys.argv[1:]
    assert sep == "--", "usage: checkov_results.py OUT.jsonl -- <checkov arguments>"

    from checkov.common.output.report import Report

    original = Report.add_record

    def add_record(self, record):
        line = json.dumps({"check_id": record.check_id, "resource": record.resource,
                           "result": str(record.check_result["result"].name), "check_type": self.check_type,
                           "file": record.file_path}) + "\n"
        fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
        return original(self, record)

    Report.add_record = add_record
    from checkov.main import Checkov

    # Checkov's argv default is bound to sys.argv when checkov.main is imported: pass it explicitly.
    return Checkov(argv=args).run() or 0


if __name__ == "__main__":
    sys.exit(main())
