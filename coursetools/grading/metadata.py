"""nbgrader's cell-metadata check, with its schema checked once per process instead of once per cell.

Both of nbgrader's autograde passes end with `CheckCellMetadata`, which validates each cell's
nbgrader metadata through `jsonschema.validate`.  That function first checks the schema itself
against its metaschema, every call: about 1.2 ms a cell, some 60 cells a submission, where the
validation proper costs 0.1 ms.  nbgrader's schema is a file of its own package, the same for
every cell, so `CheckMetadata` checks it once per process (`schema_validator`) and then validates
each cell as `jsonschema.validate` would: the same errors, the best match raised.  Everything else
(the schema version's errors, nbgrader's own rules on grade ids, points and markdown cells, the
log and the message of a failure) is nbgrader's code, run unchanged.
"""
import functools
import traceback

from jsonschema import exceptions, validators
from nbgrader.nbgraderformat import MetadataValidator, ValidationError
from nbgrader.nbgraderformat.common import BaseMetadataValidator
from nbgrader.preprocessors import CheckCellMetadata


@functools.cache
def schema_validator(version):
    """A jsonschema validator of nbgrader's metadata schema `version`, the schema itself checked once."""
    schema = MetadataValidator().schema if version == MetadataValidator.schema_version else None
    if schema is None:
        raise ValueError(f"nbgrader's installed schema is version {MetadataValidator.schema_version}, not {version}")
    kind = validators.validator_for(schema)
    kind.check_schema(schema)
    return kind(schema)


class _SchemaCheckedOnce(BaseMetadataValidator):
    """nbgrader's base validation of one cell, with the schema validator made once (see the module)."""

    def validate_cell(self, cell):
        if "nbgrader" in cell.metadata and cell.metadata["nbgrader"].get("schema_version", 0) == self.schema_version:
            error = exceptions.best_match(schema_validator(self.schema_version).iter_errors(cell.metadata["nbgrader"]))
            if error is not None:
                raise error
        else:  # no nbgrader metadata, or another schema version: nbgrader's own answer
            super().validate_cell(cell)


class FastMetadataValidator(MetadataValidator, _SchemaCheckedOnce):
    """nbgrader's MetadataValidator, whose own validate_cell reaches `_SchemaCheckedOnce` through super()."""


class CheckMetadata(CheckCellMetadata):
    """nbgrader's CheckCellMetadata step through FastMetadataValidator: same checks, log and error."""

    def preprocess(self, nb, resources):
        try:
            FastMetadataValidator().validate_nb(nb)
        except ValidationError:
            self.log.error(traceback.format_exc())
            message = "Notebook failed to validate; the nbgrader metadata may be corrupted."
            self.log.error(message)
            raise ValidationError(message)
        return nb, resources
