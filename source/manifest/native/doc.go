// Package native reads the native layout: releases listed directly in
// digitops.yaml, each with a chart directory in the repository, values
// (inline or files) and needs.
//
//	environments:
//	  - name: dev
//	    releases:
//	      - name: egov-user
//	        namespace: egov
//	        chart: charts/egov-user
//	        values: [values/common.yaml, {replicas: 2}]
//	        needs: [egov-config]
package native
