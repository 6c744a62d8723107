"""enuSpace symbol names -> enuflow block types: the name table of the enuSpace-Tensorflow library.

``SYMBOLS`` describes every symbol of the enuSpace TensorFlow library (the 487 ``tf_*.svg`` symbols):
the op (block type) the original plugin ran for it, which of its pins are tensor inputs (with the dtype
an inline constant on that pin is forced to), its output pins, pin renames where the library spelling
differs from the op's (``old>new``), and pins that the op does not have (the original never read them).

Names that are not op names map to the op the C++ API class created (``Multiply`` -> ``Mul``,
``Where3`` -> ``Select``, ``SetDiff1D`` -> ``ListDiff``, ...); names that now mean an older op map to
the op version the 2018 C++ API used (``FIFOQueue`` -> ``FIFOQueueV2``, ``TensorArrayRead`` ->
``TensorArrayReadV3``, ``Concat`` -> ``ConcatV2``, ``TopK`` -> ``TopKV2``, ``Stack`` -> ``Pack``, ...), and no
symbol names an op TensorFlow has removed (``FixedLengthRecordReader`` -> ``FixedLengthRecordReaderV2``,
``AdjustContrast`` -> ``AdjustContrastv2``, ``RandomPoisson`` -> ``RandomPoissonV2``).
The table was derived from the library files and checked against TensorFlow's OpDefs; it is data, so
this module imports neither TensorFlow nor Qt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache


@dataclass(frozen=True)
class Symbol:
    """One enuSpace library symbol and the block type it becomes."""

    name: str
    block: str
    inputs: dict[str, str] = field(default_factory=dict)  # tensor input pin -> forced dtype ("" = inferred)
    outputs: tuple[str, ...] = ()
    renames: dict[str, str] = field(default_factory=dict)
    dropped: tuple[str, ...] = ()

    def pin(self, name: str) -> str:
        """The block's pin name for the enuSpace pin ``name``."""
        return self.renames.get(name, name)


#: helpers of the enuSpace core library with hand-declared blocks (blocks/enuspace_blocks.py)
HELPERS = frozenset({"Variable", "Const_ex", "InputList", "Operation", "AddSymbolicGradients", "Output"})
#: symbols kept as inert blocks: they drive enuSpace's host, not the graph
HOST_ONLY = frozenset({"FeedType", "Input_Initializer", "Tensor", "Input", "Status", "Link"})

#: Defect f.1/f.2: the original registered these under another block's type, or created nothing.
MISREGISTERED = {
    "SparseFillEmptyRowsGrad": "SparseFillEmptyRows", "BroadcastDynamicShape": "Bitcast", "DiagPart": "Diag",
    "ExtractImagePatches": "MatMul", "BarrierClose": "BarrierReadySize",
    "BarrierIncompleteSize": "BarrierReadySize", "MapUnstageNoKey": "MapUnstage",
    "OrderedMapUnstageNoKey": "OrderedMapUnstage", "Softplus": "Softmax",
    "SparseSoftmaxCrossEntropyWithLogits": "SoftmaxCrossEntropyWithLogits", "SquaredDifference": "Pow",
    "StringToHashBucketFast": "StringToHashBucket", "StringToNumber": "DecodeRaw",
}
NOT_CREATED = frozenset({"Fact", "QuantizedResizeBilinear", "RandomPoisson"})
#: Defect f.3: the original checked the attrs pin against another ``::Attrs`` name and ignored it.
ATTRS_IGNORED = frozenset({
    "ConditionalAccumulator", "FractionalMaxPool", "ParseSingleSequenceExample", "PreventGradient", "Print",
    "QuantizedResizeBilinear", "Size", "SparseReduceMaxSparse", "StageSize", "UniqueWithCounts",
    "RandomNormal_ex", "MaxPool3D", "Shape", "FakeQuantWithMinMaxVarsPerChannelGradient", "StageClear",
    "StagePeek", "AsString", "ResourceApplyAdam", "ResourceApplyCenteredRMSProp",
    "ResourceSparseApplyAdadelta", "ScatterNdSub", "ScatterNdUpdate", "SparseApplyFtrl", "SparseApplyMomentum",
    "SparseApplyProximalAdagrad", "SparseApplyRMSProp",
})
#: Defect f.6: float attrs the original read through its integer converter (0.001 -> 0).
FLOAT_ATTRS_TRUNCATED = {"FusedBatchNorm": ("epsilon",), "FusedBatchNormGrad": ("epsilon",),
                         "LRN": ("bias", "alpha", "beta")}
#: attrs keys in the library's defaults that name no attr of the op (misspelt): the original ignored them
UNKNOWN_ATTR_KEYS = {"dialtions", "output_rangegiven", "element_shape_except0", "kip_header_lines"}
UNKNOWN_ATTR_KEYS_OF = {"AddSparseToTensorsMap": {"seed", "seed2"}}
# name [block] | tensor inputs (name[:forced dtype]) | outputs | renames old>new | pins the op lacks
_TABLE = """\
Abort||operation
Abs|x|y
AccumulatorApplyGradient|handle,local_step,gradient|operation
AccumulatorNumAccumulated|handle|num_accumulated
AccumulatorSetGlobalStep|handle,new_global_step|operation
AccumulatorTakeGradient|handle,num_required|average
Acos|x|y
Add|x,y|z
AddManySparseToTensorsMap|sparse_indices,sparse_values,sparse_shape|sparse_handles
AddN|inputs|sum
AddSparseToTensorsMap|sparse_indices,sparse_values,sparse_shape|sparse_handle
AddSymbolicGradients|outputs,inputs|grad_outputs
AdjustContrast AdjustContrastv2|images,contrast_factor|output
AdjustHue|images,delta|output
AdjustSaturation|images,scale|output
All|input,axis|output
AllCandidateSampler|true_classes|sampled_candidates,true_expected_count,sampled_expected_count
Any|input|output
ApplyAdadelta|var,accum,accum_update,lr,rho,epsilon,grad|out
ApplyAdagrad|var,accum,lr,grad|out
ApplyAdagradDA|var,gradient_accumulator,gradient_squared_accumulator,lr,l1,l2,global_step,grad|out
ApplyAdam|var,m,v,beta2_power,lr,beta1,beta2,beta1_power,epsilon,grad|out
ApplyCenteredRMSProp|var,mg,ms,lr,rho,momentum,mom,epsilon,grad|out
ApplyFtrl|var,accum,linear,lr,l1,l2,grad,lr_power|out
ApplyGradientDescent|var,alpha,delta|out
ApplyMomentum|accum,lr,grad,momentum,var|out
ApplyProximalAdagrad|var,accum,lr,l1,l2,grad|out
ApplyProximalGradientDescent|var,alpha,l1,l2,delta|out
ApplyRMSProp|var,ms,mom,lr,rho,momentum,epsilon,grad|out
ApproximateEqual|x,y|z
ArgMax|input,dimension|output
ArgMin|input,dimension|output
AsString|input|output
Asin|x|y
Assert|condition,data|operation
Assign|ref,value|output_ref
AssignAdd|ref,value|output_ref
AssignSub|ref,value|output_ref
Atan|x|y
Atan2|x,y|z
AvgPool|value|output
AvgPool3D|input|output
AvgPool3DGrad|orig_input_shape,grad|output
Barrier||handle
BarrierClose|handle|operation
BarrierIncompleteSize|handle|size
BarrierInsertMany|handle,keys,values|operation
BarrierReadySize|handle|size
BarrierTakeMany|handle,num_elements|indices,keys,values
BatchMatMul|x,y|output
BatchToSpace|input,crops:DT_INT32|output
BatchToSpaceND|input,block_shape:DT_INT32,crops:DT_INT32|output
Betainc|x|z||y
BiasAdd|value,bias|output
BiasAddGrad|out_backprop|output
Bincount|arr,size,weights|bins
Bitcast|input|output
BroadcastDynamicShape BroadcastArgs|s0:DT_INT32,s1:DT_INT32|r0
Bucketize|input|output
Cast|x|y
Ceil|x|y
CheckNumerics|tensor|output
ClientSession|fetch_outputs,run_outputs,inputs|status
Complex|real,imag|out
ComplexAbs|x|y
ComputeAccidentalHits|true_classes|indices,ids,weights
Concat ConcatV2|values,axis:DT_INT32|output
ConditionalAccumulator||handle
Conj|input|output
Const|val|output
Const_ex Const|val|output
ControlTrigger||operation
Conv2D|input,filter|output
Conv2DBackpropFilter|input,filter_sizes,out_backprop|output
Conv2DBackpropInput|input_sizes,filter,out_backprop|output
Conv3D|input,filter|output
Conv3DBackpropFilterV2|input,filter_sizes,out_backprop|output
Conv3DBackpropInputV2|input_sizes,filter,out_backprop|output
Cos|x|y
Cosh|x|y
CountUpTo|ref|output
CropAndResize|image,boxes,box_ind,crop_size|crops
CropAndResizeGradBoxes|image,boxes,box_ind,grads|output
CropAndResizeGradImage|box_ind,boxes,image_size,grads|output
Cross|a,b|product
Cumprod|x,axis|out
Cumsum|x,axis|out
DecodeBase64|input|output
DecodeBmp|contents|image
DecodeCSV|records,record_defaults|output
DecodeGif|contents|image
DecodeJSONExample|json_examples|binary_examples
DecodeJpeg|contents|image
DecodePng|contents|image
DecodeRaw|bytes|output
DeleteSessionTensor|handle|operation
DepthToSpace|input|output
DepthwiseConv2dNative|input,filter|output
DepthwiseConv2dNativeBackpropFilter|input,filter_sizes,out_backprop|output
DepthwiseConv2dNativeBackpropInput|input_sizes,filter,out_backprop|output
Dequantize|input,min_range:DT_FLOAT,max_range:DT_FLOAT|output
DeserializeManySparse|serialized_sparse|sparse_indices,sparse_values,sparse_shape
DestroyTemporaryVariable|ref|value
Diag|diagonal|output
DiagPart|input|diagonal
Digamma|x|y
Dilation2D|input,filter|output
Dilation2DBackpropFilter|input,filter,out_backprop|filter_backprop
Dilation2DBackpropInput|input,filter,out_backprop|in_backprop
Div|x,y|z
DrawBoundingBoxes|images,boxes|output
DynamicPartition|data,partitions|outputs
DynamicStitch|indices,data|merged
EditDistance|hypothesis_indices:DT_INT64,hypothesis_values,hypothesis_shape:DT_INT32,truth_indices:DT_INT64,truth_shape:DT_INT32,truth_values|output
Elu|features|activations
EncodeBase64|input|output
EncodeJpeg|image|contents
EncodePng|image|contents
Equal|x,y|z
Erf|x|y
Erfc|x|y
Exp|x|y
ExpandDims|input,axis:DT_FLOAT|output
Expm1|x|y
ExtractGlimpse|input,size,offsets|glimpse
ExtractImagePatches|images|patches
FIFOQueue FIFOQueueV2||handle
FakeQuantWithMinMaxArgs|inputs|outputs
FakeQuantWithMinMaxArgsGradient|gradients,inputs|backprops
FakeQuantWithMinMaxVars|inputs,min:DT_FLOAT,max:DT_FLOAT|outputs
FakeQuantWithMinMaxVarsGradient|gradients,inputs,min:DT_FLOAT,max:DT_FLOAT|backprops_wrt_input,backprop_wrt_min,backprop_wrt_max
FakeQuantWithMinMaxVarsPerChannel|inputs,min:DT_FLOAT,max:DT_FLOAT|outputs
FakeQuantWithMinMaxVarsPerChannelGradient|gradients,inputs,min:DT_FLOAT,max:DT_FLOAT|backprops_wrt_input,backprop_wrt_min,backprop_wrt_max
FeedType|input,initializer,outputhash|output
Fill|dims:DT_INT32,value|output
FixedLengthRecordReader FixedLengthRecordReaderV2||reader_handle
FixedUnigramCandidateSampler|true_classes|sampled_candidates,sampled_expected_count,true_expected_count
Floor|x|y
FloorDiv|x,y|z
FloorMod|x,y|z
FractionalAvgPool|value|output,row_pooling_sequence,col_pooling_sequence
FractionalMaxPool|value|output,row_pooling_sequence,col_pooling_sequence
FusedBatchNorm|x,scale,offset,mean,variance|y,batch_mean,batch_variance,reserve_space_1,reserve_space_2
FusedBatchNormGrad|x,scale,y_backprop,reserve_space_1,reserve_space_2|x_backprop,scale_backprop,offset_backprop,reserve_space_3,reserve_space_4
FusedPadConv2D|input,paddings,filter|output
FusedResizeAndPadConv2D|input,paddings,filter,size|output
Gather|params,indices:DT_INT32|output
GatherNd|params,indices:DT_INT32|output
GatherV2|params,indices:DT_INT32,axis:DT_INT32|output
GetSessionHandle|value|handle
GetSessionHandleV2|value|handle
GetSessionTensor|handle|value
Greater|x,y|z
GreaterEqual|x,y|z
HSVToRGB|images|output
HistogramSummary|tag,values|summary
Identity|input|output
IdentityReader IdentityReaderV2||reader_handle
Igamma|a,x|z
Igammac|a,x|z
Imag|input|output
ImmutableConst||tensor
InTopK|predictions,targets|precision
Input|initvalues|input
InputList|outputlist|output
Input_Initializer|t|output
InvertPermutation|x|y
IsInf|x|y
IsNan|x|y
IsVariableInitialized|ref|is_initialized
L2Loss|t|output
LMDBReader||reader_handle
LRN|input|output
LearnedUnigramCandidateSampler|true_classes|sampled_candidates,true_expected_count,sampled_expected_count
Less|x,y|z
LessEqual|x,y|z
Lgamma|x|y
LinSpace|start,Input,num|output|Input>stop
Link||
Log|x|y
Log1p|x|y
LogSoftmax|logits|logsoftmax
LogUniformCandidateSampler|true_classes|sampled_candidates,true_expected_count,sampled_expected_count
LogicalAnd|x,y|z
LogicalNot|x|y
LogicalOr|x,y|z
LoopCond|input|output
MapClear||operation||handle
MapIncompleteSize||size||handle
MapPeek|key,indices|size|size>values|handle
MapSize||size
MapStage|key,indices,values|operation
MapUnstage|key,indices|values
MapUnstageNoKey|indices|values,key
MatMul|a,b|product
MatchingFiles|pattern|filenames
MatrixBandPart|input,num_lower,num_upper|band
MatrixDiag|diagonal|output
MatrixDiagPart|input|diagonal
MatrixSetDiag|input,diagonal|output
Max|input,axis|output
MaxPool|input|output
MaxPool3D|input|output
MaxPool3DGrad|orig_input,orig_output,grad|output
MaxPool3DGradGrad|orig_input,orig_output,grad|output
MaxPoolGradGrad|orig_input,orig_output,grad|output
MaxPoolGradGradWithArgmax|input,grad,argmax|output
MaxPoolWithArgmax|input|output,argmax
Maximum|x,y|z
Mean|input,axis|output
Merge|inputs|output,value_index
MergeSummary|inputs|summary
MergeV2Checkpoints|checkpoint_prefixes,destination_prefix|operation
Min|input,axis|output
Minimum|x,y|z
MirrorPad|input,paddings:DT_INT32|output
Mod|x,y|z
Multinomial|logits,num_samples|output
Multiply Mul|x,y|z
Negate Neg|x|y
NextIteration|data|output
NoOp||operation
NonMaxSuppression|boxes,scores,max_output_size|selected_indices
NotEqual|x,y|z
OneHot|indices,depth,on_value,off_value|output
OnesLike|x|y
Operation|operation|output
OrderedMapClear||operation||handle
OrderedMapIncompleteSize||size||handle
OrderedMapPeek|key,indices|size|size>values|handle
OrderedMapSize||size
OrderedMapStage|key,indices,values|operation
OrderedMapUnstage|key,indices|values
OrderedMapUnstageNoKey|indices|values,key
Output|output_op|output
Pad|input,paddings:DT_INT32|output
PadV2|input,paddings:DT_INT32,constant_values|output
PaddingFIFOQueue PaddingFIFOQueueV2||handle
ParallelConcat|values|output
ParameterizedTruncatedNormal|shape,means,stdevs,minvals,maxvals|output
ParseExample|serialized,names,sparse_keys,dense_keys,dense_defaults|sparse_indices,sparse_values,sparse_shapes,dense_values
ParseSingleSequenceExample|serialized,feature_list_dense_missing_assumed_empty,context_sparse_keys,context_dense_keys,feature_list_sparse_keys,feature_list_dense_keys,context_dense_defaults,debug_name|context_sparse_indices,context_sparse_values,context_sparse_shapes,context_dense_values,feature_list_sparse_indices,feature_list_sparse_values,feature_list_sparse_shapes,feature_list_dense_values
ParseTensor|serialized|output
Placeholder||output
PlaceholderWithDefault|input|output
Polygamma|x,y|z|x>a,y>x
Pow|x,y|z
PreventGradient|input|output
Print|input,data|output
PriorityQueue PriorityQueueV2||handle
Prod|input,axis|output
QuantizeAndDequantizeV2|input,input_min,input_max|output
QuantizeDownAndShrinkRange|input,input_min,input_max|output,output_min,output_max
QuantizeV2|input,min_range,max_range|output,output_min,output_max
QuantizedAvgPool|input,min_input,max_input|output,min_output,max_output
QuantizedBatchNormWithGlobalNormalization|t,t_min,t_max,m,m_min,m_max,v,v_min,v_max,beta,beta_min,beta_max,gamma,gamma_min,gamma_max|result
QuantizedBiasAdd|input,min_input,max_input,bias,min_bias,max_bias|output,min_output,max_output|min_output>min_out,max_output>max_out
QuantizedConcat|concat_dim,values,input_mins,input_maxes|output,output_min,output_max
QuantizedConv2D|input,min_input,max_input,filter,min_filter,max_filter|output,min_output,max_output
QuantizedInstanceNorm|x,x_min,x_max|y,y_min,y_max
QuantizedMatMul|a,b,min_a,max_a,min_b,max_b|out,min_out,max_out
QuantizedMaxPool|input,min_input,max_input|output,min_output,max_output
QuantizedMul|x,y,min_x,max_x,min_y,max_y|z,min_z,max_z
QuantizedRelu|features,min_features,max_features|activations,min_activations,max_activations
QuantizedRelu6|features,min_features,max_features|activations,min_activations,max_activations
QuantizedReluX|features,min_features,max_features,max_value|activations,min_activations,max_activations
QuantizedReshape|tensor,shape,input_min,input_max|output,output_min,output_max
QuantizedResizeBilinear|images,size,min,max|resized_images,out_min,out_max
QueueClose QueueCloseV2|handle|operation
QueueDequeue QueueDequeueV2|handle|components
QueueDequeueMany QueueDequeueManyV2|handle,n|components
QueueDequeueUpTo QueueDequeueUpToV2|handle,n|components
QueueEnqueue QueueEnqueueV2|handle,components|operation
QueueEnqueueMany QueueEnqueueManyV2|handle,components|operation
QueueSize QueueSizeV2|handle|size
RGBToHSV|images|output
RandomGamma|shape,alpha|output
RandomNormal RandomStandardNormal|shape|output
RandomNormal_ex RandomStandardNormal||output
RandomPoisson RandomPoissonV2|shape,rate|output
RandomShuffle|value|output
RandomShuffleQueue RandomShuffleQueueV2||handle
RandomUniform|shape|output
RandomUniformInt|shape,minval,maxval|output
Range|start,limit,delta|output
Rank|input|output
ReadFile|filename|contents
ReaderNumRecordsProduced ReaderNumRecordsProducedV2|reader_handle|records_produced
ReaderNumWorkUnitsCompleted ReaderNumWorkUnitsCompletedV2|reader_handle|units_completed
ReaderRead ReaderReadV2|reader_handle,queue_handle|key,value
ReaderReadUpTo ReaderReadUpToV2|reader_handle,queue_handle,num_records|keys,values
ReaderReset ReaderResetV2|reader_handle|operation
ReaderRestoreState ReaderRestoreStateV2|reader_handle,state|operation
ReaderSerializeState ReaderSerializeStateV2|reader_handle|state
Real|start_52|output|start_52>input
RealDiv|x,y|z
Reciprocal|x|y
RecordInput||records
ReduceJoin|input,reduction_indices|output|input>inputs
RefNextIteration|data|output
RefSelect|index,inputs|output
RefSwitch|data,pred|output_false,output_true
Relu|features|activations
Relu6|features|activations
RequantizationRange|input,input_min,input_max|output_min,output_max
Requantize|input,input_min,input_max,requested_output_min,requested_output_max|output,output_min,output_max
Reshape|tensor,shape:DT_INT32|output
ResizeArea|images,size|resized_images
ResizeBicubic|images,size|resized_images
ResizeBilinear|images,size|resized_images
ResizeNearestNeighbor|images,size|resized_images
ResourceApplyAdadelta|var,accum,accum_update,lr,rho,epsilon,grad|operation
ResourceApplyAdagrad|var,accum,lr,grad|operation
ResourceApplyAdagradDA|var,gradient_accumulator,gradient_squared_accumulator,lr,l1,l2,global_step,grad|operation
ResourceApplyAdam|var,m,v,beta2_power,lr,beta1,beta2,beta1_power,epsilon,grad|operation
ResourceApplyCenteredRMSProp|var,mg,ms,lr,rho,momentum,mom,epsilon,grad|operation
ResourceApplyFtrl|var,accum,linear,lr,l1,l2,grad,lr_power|operation
ResourceApplyGradientDescent|var,alpha,delta|operation
ResourceApplyMomentum|accum,lr,grad,momentum|operation
ResourceApplyProximalAdagrad|var,accum,lr,l1,l2,grad|operation
ResourceApplyProximalGradientDescent|var,alpha,l1,l2,delta|operation
ResourceApplyRMSProp|var,ms,mom,lr,rho,momentum,epsilon,grad|operation
ResourceSparseApplyAdadelta|var,accum,accum_update,lr,rho,epsilon,grad,indices|operation
ResourceSparseApplyAdagrad|var,accum,lr,grad,indices|operation
ResourceSparseApplyAdagradDA|var,gradient_accumulator,gradient_squared_accumulator,lr,l1,l2,global_step,grad,indices|operation
ResourceSparseApplyCenteredRMSProp|var,mg,ms,lr,rho,momentum,mom,epsilon,grad,indices|operation
ResourceSparseApplyFtrl|var,accum,linear,lr,l1,l2,grad,lr_power,indices|operation
ResourceSparseApplyMomentum|accum,lr,grad,momentum,indices|operation
ResourceSparseApplyProximalAdagrad|var,accum,lr,l1,l2,grad,indices|operation
ResourceSparseApplyProximalGradientDescent|var,alpha,l1,l2,grad,indices|operation
ResourceSparseApplyRMSProp|var,ms,mom,lr,rho,momentum,epsilon,grad,indices|operation
ResourceStridedSliceAssign|ref,begin:DT_INT32,end:DT_INT32,strides:DT_INT32,value|operation
Restore|file_pattern,tensor_name|tensor
RestoreSlice|file_pattern,tensor_name,shape_and_slice|tensor
RestoreV2|prefix,tensor_names,shape_and_slices|tensors
Reverse ReverseV2|tensor,axis:DT_INT32|output
ReverseSequence|input,seq_lengths:DT_INT32|output
Rint|x|y
Round|x|y
Rsqrt|x|y
SampleDistortedBoundingBox|image_size,bounding_boxes|begin,size,bboxes
SampleDistortedBoundingBoxV2|image_size,bounding_boxes,min_object_covered|begin,size,bboxes
Save|filename,tensor_names,data|operation
SaveSlices|filename,tensor_names,data,shapes_and_slices|operation
SaveV2|prefix,tensor_names,tensors,shape_and_slices|operation
ScalarSummary|tags,values|summary
ScatterAdd|ref,indices,updates|output_ref
ScatterDiv|ref,indices,updates|output_ref
ScatterMul|ref,indices,updates|output_ref
ScatterNd|indices:DT_INT32,updates,shape:DT_INT32|output
ScatterNdAdd|ref,indices,updates|output_ref
ScatterNdNonAliasingAdd|input,indices:DT_INT32,updates|output
ScatterNdSub|ref,indices,updates|output_ref
ScatterNdUpdate|ref,indices,updates|output_ref
ScatterSub|ref,indices,updates|output_ref
ScatterUpdate|ref,indices,updates|output_ref
SegmentMax|data,segment_ids|output
SegmentMean|data,segment_ids|output
SegmentMin|data,segment_ids|output
SegmentProd|data,segment_ids|output
SegmentSum|data,segment_ids|output
SerializeManySparse|sparse_indices,sparse_values,sparse_shape|serialized_sparse
SerializeSparse|sparse_indices,sparse_values,sparse_shape|serialized_sparse
SetDiff1D ListDiff|x,y|out,idx
Shape|input|output
ShapeN|input|output
ShardedFilename|basename,shard,num_shards|filename
ShardedFilespec|basename,num_shards|filename
Sigmoid|x|y
Sign|x|y
Sin|x|y
Sinh|x|y
Size|input|output
Slice|input,begin:DT_INT32,size:DT_INT32|output
Softmax|logits|softmax
SoftmaxCrossEntropyWithLogits|features,labels|loss,backprop
Softplus|features|activations
Softsign|features|activations
SpaceToBatch|input:DT_INT32,paddings:DT_INT32|output
SpaceToBatchND|input:DT_INT32,block_shape:DT_INT32,paddings:DT_INT32|output
SpaceToDepth|input:DT_INT32|output
SparseAccumulatorApplyGradient|handle,local_step,gradient_indices,gradient_values,gradient_shape|operation
SparseAccumulatorTakeGradient|handle,num_required|indices,values,shape
SparseAdd|a_indices,a_values,a_shape,b_indices,b_values,b_shape,thresh|sum_indices,sum_values,sum_shape
SparseAddGrad|backprop_val_grad,a_indices,b_indices,sum_indices|a_val_grad,b_val_grad
SparseApplyAdadelta|var,accum,accum_update,lr,rh,epsilon,grad,indices|out|rh>rho
SparseApplyAdagrad|var,accum,lr,grad,indices|out
SparseApplyAdagradDA|var,gradient_accumulator,gradient_squared_accumulator,lr,l1,l2,global_step,grad,indices|out
SparseApplyCenteredRMSProp|var,mg,ms,lr,rho,momentum,mom,epsilon,grad,indices|out
SparseApplyFtrl|var,accum,linear,lr,l1,l2,grad,lr_power,indices|out
SparseApplyMomentum|accum,lr,grad,momentum,indices|out
SparseApplyProximalAdagrad|var,accum,lr,l1,l2,grad,indices|out
SparseApplyProximalGradientDescent|var,alpha,l1,l2,grad,indices|out
SparseApplyRMSProp|var,ms,mom,lr,rho,momentum,epsilon,grad,indices|out
SparseConcat|indices,values,shapes|output_indices,output_values,output_shape
SparseConditionalAccumulator||handle
SparseCross|indices,values,shapes,dense_inputs|output_indices,output_values,output_shape
SparseDenseCwiseAdd|sp_indices,sp_values,sp_shape,dense|output
SparseDenseCwiseDiv|sp_indices,sp_values,sp_shape,dense|output
SparseDenseCwiseMul|sp_indices,sp_values,sp_shape,dense|output
SparseFillEmptyRows|indices,values,dense_shape,default_value|output_indices,output_values,empty_row_indicator,reverse_index_map
SparseFillEmptyRowsGrad|reverse_index_map,grad_values|d_values,d_default_value
SparseMatMul|a,b|product
SparseReduceMax|input_indices,input_values,input_shape,reduction_axes|output
SparseReduceMaxSparse|input_indices,input_values,input_shape,reduction_axes|output_indices,output_values,output_shape
SparseReduceSum|input_indices,input_values,input_shape,reduction_axes|output
SparseReduceSumSparse|input_indices,input_values,input_shape,reduction_axes|output_indices,output_values,output_shape
SparseReorder|input_indices,input_values,input_shape|output_indices,output_values
SparseReshape|input_indices,input_shape,new_shape|output_indices,output_shape
SparseSegmentMean|data,segment_ids,indices|output
SparseSegmentMeanGrad|output_dim0,segment_ids,indices,grad|output
SparseSegmentSqrtN|data,segment_ids,indices|output
SparseSegmentSqrtNGrad|data,segment_ids,indices,output_dim0|output|data>grad
SparseSegmentSum|data,segment_ids,indices|output
SparseSlice|indices,values,shape,start,size|output_indices,output_values,output_shape
SparseSoftmax|sp_indices,sp_values,sp_shape|output
SparseSoftmaxCrossEntropyWithLogits|features,labels|backprop,loss
SparseSparseMaximum|a_indices,a_values,a_shape,b_indices,b_values,b_shape|output_indices,output_values
SparseSparseMinimum|a_indices,a_values,a_shape,b_indices,b_values,b_shape|output_indices,output_values
SparseSplit|split_dim,indices,values,shape|output_indices,output_values,output_shape
SparseTensorDenseAdd|a_indices,a_values,a_shape,b|output
SparseTensorDenseMatMul|a_indices,a_values,a_shape,b|product
SparseToDense|sparse_indices,output_shape,sparse_values,default_value|dense
Split|axis:DT_INT32,value|output
SplitV|value,size_splits:DT_INT32,axis:DT_INT32|output
Sqrt|x|y
Square|x|y
SquaredDifference|x,y|z
Squeeze|input|output
Stack Pack|values|output
Stage|values|operation
StageClear||operation
StagePeek|index|values
StageSize||size
Status|status|output
StopGradient|input|output
StridedSlice|input,begin:DT_INT32,end:DT_INT32,strides:DT_INT32|output
StridedSliceAssign|ref,begin:DT_INT32,end:DT_INT32,strides:DT_INT32,value|output_ref
StridedSliceGrad|shape:DT_INT32,begin:DT_INT32,end:DT_INT32,strides:DT_INT32,dy|output
StringJoin|inputs|output
StringSplit|input,delimiter|indices,values,shape
StringToHashBucket|string_tensor|output
StringToHashBucketFast|input|output
StringToHashBucketStrong|input|output
StringToNumber|string_tensor|output
Substr|input,pos,len|output
Subtract Sub|x,y|z
Sum|input,axis|output
Switch|data,pred|output_false,output_true
TFRecordReader TFRecordReaderV2||reader_handle
TakeManySparseFromTensorsMap|sparse_handles|sparse_indices,sparse_values,sparse_shape
Tan|x|y
Tanh|x|y
TemporaryVariable||ref
Tensor|initvalues|output
TensorArray TensorArrayV3|size|handle,flow
TensorArrayClose TensorArrayCloseV3|handle|operation
TensorArrayConcat TensorArrayConcatV3|handle,flow_in|value,lengths
TensorArrayGather TensorArrayGatherV3|handle,flow_in,indices|value
TensorArrayGrad TensorArrayGradV3|handle,flow_in|grad_handle,flow_out
TensorArrayRead TensorArrayReadV3|handle,flow_in,index|value
TensorArrayScatter TensorArrayScatterV3|handle,value,flow_in,indices|flow_out
TensorArraySize TensorArraySizeV3|handle,flow_in|size
TensorArraySplit TensorArraySplitV3|handle,value,flow_in,lengths|flow_out
TensorArrayWrite TensorArrayWriteV3|handle,value,flow_in,index|flow_out
TensorSummary|tensor|summary
TextLineReader TextLineReaderV2||reader_handle
Tile|input,multiples:DT_INT32|output
TopK TopKV2|input,k|indices,values
Transpose|x,perm:DT_INT32|y
TruncateDiv|x,y|z
TruncateMod|x,y|z
TruncatedNormal|shape|output
UniformCandidateSampler|true_classes|sampled_candidates,true_expected_count,sampled_expected_count
Unique|x|y,idx
UniqueWithCounts|x|y,idx,count
UnsortedSegmentMax|data,segment_ids,num_segments|output
UnsortedSegmentSum|data,segment_ids,num_segments|output
Unstack Unpack|value|output
Unstage||values
Variable|initvalues|ref
Where|condition:DT_BOOL|index
Where3 Select|condition,x,y|output
WholeFileReader WholeFileReaderV2||reader_handle
WriteFile|filename,contents|operation
ZerosLike|x|y
Zeta|x,y|z|y>q
"""


@lru_cache(maxsize=1)
def symbols() -> dict[str, Symbol]:
    """Every library symbol by name (parsed once from the table)."""
    out: dict[str, Symbol] = {}
    for line in _TABLE.splitlines():
        if not line.strip():
            continue
        parts = line.split("|") + ["", "", "", ""]
        head = parts[0].split(" ")
        name, block = head[0], head[1] if len(head) > 1 else head[0]
        inputs: dict[str, str] = {}
        for item in filter(None, parts[1].split(",")):
            pin, _, dt = item.partition(":")
            inputs[pin] = dt
        outputs = tuple(filter(None, parts[2].split(",")))
        renames = dict(x.split(">", 1) for x in filter(None, parts[3].split(",")))
        dropped = tuple(filter(None, parts[4].split(",")))
        out[name] = Symbol(name, block, inputs, outputs, renames, dropped)
    return out


def lookup(name: str) -> Symbol | None:
    """The library symbol ``name`` (without ``#``), or None for a symbol of another library."""
    return symbols().get(name)
