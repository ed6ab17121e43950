"""Runs one Lambda invocation inside a subprocess (the emulator's stand-in for the Lambda runtime).

Input: the event as JSON on stdin. Environment: SPOTKIT_LAMBDA_CODE_DIR (the unpacked zip),
SPOTKIT_LAMBDA_HANDLER (``module.function``), plus the function's own variables.
Output: the handler's return value as JSON on stdout; exit 1 with the traceback on stderr if the
handler raised (what Lambda reports as a function error). Whatever the handler itself prints
(logs, Powertools' EMF metric blobs) goes to stderr: in Lambda it goes to CloudWatch Logs and never
mixes with the return value, which callers such as the SQS poller parse as JSON.
"""

import json
import os
import sys
import time
import traceback
import uuid


class LambdaContext:
    """The attributes of the Lambda context object handlers commonly read."""

    def __init__(self, timeout_s: float):
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "function")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ.get("AWS_LAMBDA_FUNCTION_ARN", "")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        self._deadline = time.time() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def main() -> int:
    code_dir = os.environ["SPOTKIT_LAMBDA_CODE_DIR"]
    module_name, func_name = os.environ["SPOTKIT_LAMBDA_HANDLER"].rsplit(".", 1)
    sys.path.insert(0, code_dir)
    event = json.load(sys.stdin)
    result_out, sys.stdout = sys.stdout, sys.stderr  # the handler's prints are logs, not the result
    try:
        module = __import__(module_name, fromlist=[func_name])
        handler = getattr(module, func_name)
        result = handler(event, LambdaContext(float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3"))))
    except Exception as exc:  # noqa: BLE001 - every handler error is a function error
        traceback.print_exc()
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        sys.stdout.flush()
        sys.stdout = result_out
    result_out.write(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
