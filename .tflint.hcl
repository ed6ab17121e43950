# tflint for spotkit's modules/ and terraform/<env>/ roots. `make lint` runs it in each (--chdir)
# with this file by absolute path. terraform/shared is not a root (its files are linked into them).
#
# Plugins load from TFLINT_PLUGIN_DIR. Offline, `spotkit setup --lint-tools` builds the AWS ruleset
# from the Go module proxy and links it to .tools/tflint-plugins/<source>/<version>/, the path
# `tflint --init` would install it to, so no --init (and no GitHub download) is needed here;
# CI on GitHub runs `tflint --init` instead. Keep `version` in step with scripts/spotkit/gotools.py.

config {
  # Lint what local module calls pass in, not only each directory's own code.
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "recommended"
}

plugin "aws" {
  enabled = true
  version = "0.48.0"
  source  = "github.com/terraform-linters/tflint-ruleset-aws"
}
