export { GgufError, type GgufErrorCode } from './errors.js';
export { GgufFile, type GgufFileInit, type GgufTensorInfo } from './gguf-file.js';
export { modelConfigFromGguf } from './model-metadata.js';
export { GGUF_DEFAULT_ALIGNMENT, openGguf, parseGguf } from './reader.js';
export {
  GgmlType,
  type GgmlTypeId,
  type GgmlTypeName,
  SUPPORTED_TENSOR_TYPES,
  type TensorTypeTraits,
  tensorByteLength,
  tensorTypeName,
  tensorTypeTraits,
  tensorTypeTraitsOf,
} from './tensor-types.js';
export {
  GGUF_VALUE_TYPE_IDS,
  type GgufArray,
  type GgufArrayValues,
  type GgufScalar,
  type GgufScalarType,
  type GgufScalarValues,
  type GgufValue,
  type GgufValueType,
} from './value-types.js';
export { type GgufArrayInput, type GgufTensorData, GgufWriter } from './writer.js';
